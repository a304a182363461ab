#include "pipeline/batch/failure.h"

#include <catch2/catch.hpp>

using namespace tandem;
using batch::FailureKind;
using batch::ObjectFailure;

TEST_CASE("each failure kind has its SageMaker name") {
  CHECK(batch::sagemaker_name(FailureKind::storage) == "StorageError");
  CHECK(batch::sagemaker_name(FailureKind::input) == "InputError");
  CHECK(batch::sagemaker_name(FailureKind::data_processing) == "DataProcessingError");
  CHECK(batch::sagemaker_name(FailureKind::model) == "ModelError");
}

TEST_CASE("a failed call's kind is named as the runtime API names its error type") {
  using proto::ErrorType;
  for (const auto type :
       {ErrorType::validation, ErrorType::not_found, ErrorType::method_not_allowed,
        ErrorType::payload_too_large, ErrorType::expectation_failed, ErrorType::model,
        ErrorType::model_not_ready, ErrorType::internal, ErrorType::not_implemented,
        ErrorType::unavailable}) {
    CHECK(batch::sagemaker_name(batch::failure_kind(type)) == proto::error_type_name(type));
  }
}

TEST_CASE("a failed call names its records, its stage and its attempts") {
  transform::Batch batch;
  batch.first_record_index = 10;
  batch.record_count = 5;
  batch.first_offset = 1234;
  const auto error = proto::Error::stage_status({"model", "container-2", 500, "boom", ""});
  const auto failure = ObjectFailure::call(batch, error, 3);
  CHECK(failure.error() == "ModelError");
  CHECK(failure.first_record == 10u);
  CHECK(failure.record_count == 5u);
  CHECK(failure.byte_offset == 1234u);
  CHECK(failure.stage == "model");
  CHECK(failure.container == "container-2");
  CHECK(failure.status == 500);
  CHECK(failure.attempts == 3);
  CHECK(failure.message == error.message);
}

TEST_CASE("failures outside a stage name no stage") {
  transform::Batch batch;
  batch.first_record_index = 4;
  batch.record_count = 2;
  const auto early = ObjectFailure::answered_early(batch);
  CHECK(early.error() == "ModelError");
  CHECK(early.stage.empty());
  CHECK(early.first_record == 4u);
  CHECK(early.message == "the first stage answered before the whole object was sent to it");
  CHECK(ObjectFailure::data_processing(batch, "bad").error() == "DataProcessingError");
  const auto storage = ObjectFailure::storage("s3://b/k: GET failed");
  CHECK(storage.error() == "StorageError");
  CHECK_FALSE(storage.first_record.has_value());
  CHECK(ObjectFailure::input("record 3: bad magic").error() == "InputError");
}
