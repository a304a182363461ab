#include "pipeline/batch/failure.h"

namespace tandem::batch {

std::string_view sagemaker_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::storage:
      return "StorageError";
    case FailureKind::input:
      return "InputError";
    case FailureKind::data_processing:
      return "DataProcessingError";
    case FailureKind::model:
      return "ModelError";
    case FailureKind::validation:
      return "ValidationError";
    case FailureKind::model_not_ready:
      return "ModelNotReadyException";
    case FailureKind::internal:
      return "InternalFailure";
    case FailureKind::unavailable:
      return "ServiceUnavailable";
  }
  return "InternalFailure";
}

FailureKind failure_kind(proto::ErrorType type) {
  switch (type) {
    case proto::ErrorType::validation:
    case proto::ErrorType::not_found:
    case proto::ErrorType::method_not_allowed:
    case proto::ErrorType::payload_too_large:
    case proto::ErrorType::expectation_failed:
    case proto::ErrorType::not_implemented:
      return FailureKind::validation;
    case proto::ErrorType::model:
      return FailureKind::model;
    case proto::ErrorType::model_not_ready:
      return FailureKind::model_not_ready;
    case proto::ErrorType::internal:
      return FailureKind::internal;
    case proto::ErrorType::unavailable:
      return FailureKind::unavailable;
  }
  return FailureKind::internal;
}

namespace {

ObjectFailure of_batch(const transform::Batch& batch, FailureKind kind, std::string message) {
  ObjectFailure failure;
  failure.first_record = batch.first_record_index;
  failure.record_count = batch.record_count;
  failure.byte_offset = batch.first_offset;
  failure.kind = kind;
  failure.message = std::move(message);
  return failure;
}

}  // namespace

ObjectFailure ObjectFailure::storage(std::string message) {
  ObjectFailure failure;
  failure.kind = FailureKind::storage;
  failure.message = std::move(message);
  return failure;
}

ObjectFailure ObjectFailure::input(std::string message) {
  ObjectFailure failure;
  failure.kind = FailureKind::input;
  failure.message = std::move(message);
  return failure;
}

ObjectFailure ObjectFailure::call(const transform::Batch& batch, const proto::Error& error,
                                  int attempts) {
  auto failure = of_batch(batch, failure_kind(error.type), error.message);
  failure.attempts = attempts;
  if (error.stage) {
    failure.stage = error.stage->stage;
    failure.container = error.stage->container;
    failure.status = error.stage->original_status;
  }
  return failure;
}

ObjectFailure ObjectFailure::answered_early(const transform::Batch& batch) {
  return of_batch(batch, FailureKind::model,
                  "the first stage answered before the whole object was sent to it");
}

ObjectFailure ObjectFailure::data_processing(const transform::Batch& batch, std::string message) {
  return of_batch(batch, FailureKind::data_processing, std::move(message));
}

}  // namespace tandem::batch
