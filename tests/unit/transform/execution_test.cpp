#include "pipeline/transform/execution.h"

#include <catch2/catch.hpp>

using namespace tandem::transform;

namespace {
const char* const kAnswer =
    R"({"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 2})";
}

TEST_CASE("Execution parameters: job, then the container's answer, then defaults", "[execution]") {
  TransformJob job;
  SECTION("nothing set anywhere: 1, MultiRecord, 6") {
    auto resolved = resolve_execution_parameters(job, std::nullopt);
    REQUIRE(resolved.ok());
    CHECK(resolved->max_concurrent_transforms == 1);
    CHECK(resolved->batch_strategy == BatchStrategy::multi_record);
    CHECK(resolved->max_payload_in_mb == 6);
  }
  SECTION("the container's answer fills what the job left unset") {
    job.max_payload_in_mb = 0;
    auto resolved = resolve_execution_parameters(job, kAnswer);
    REQUIRE(resolved.ok());
    CHECK(resolved->max_concurrent_transforms == 4);
    CHECK(resolved->batch_strategy == BatchStrategy::single_record);
    CHECK(resolved->max_payload_in_mb == 0);
  }
  SECTION("a partial answer; unknown keys ignored") {
    job.batch_strategy = BatchStrategy::multi_record;
    auto resolved =
        resolve_execution_parameters(job, R"({"MaxConcurrentTransforms": 0, "Extra": true})");
    REQUIRE(resolved.ok());
    CHECK(resolved->max_concurrent_transforms == 1);
    CHECK(resolved->batch_strategy == BatchStrategy::multi_record);
    CHECK(resolved->max_payload_in_mb == 6);
  }
}

TEST_CASE("A malformed /execution-parameters answer is an error naming the key", "[execution]") {
  TransformJob job;
  CHECK(resolve_execution_parameters(job, R"({"BatchStrategy": "MultiRecord",
                                              "MaxPayloadInMB": 500})")
            .error()
            .message ==
        "/execution-parameters: MaxPayloadInMB: expected an integer from 0 to 100, got 500\n"
        "/execution-parameters: BatchStrategy: expected one of MULTI_RECORD, SINGLE_RECORD, got "
        "\"MultiRecord\"");
  CHECK(resolve_execution_parameters(job, "[]").error().message ==
        "/execution-parameters: expected a JSON object, got []");
  CHECK(resolve_execution_parameters(job, "<html>")
            .error()
            .message.starts_with("/execution-parameters: not valid JSON: "));
}

TEST_CASE("SAGEMAKER_* variables: BATCH always, the rest only when the job set them",
          "[execution]") {
  TransformJob job;
  CHECK(batch_environment(job) == Environment{{"SAGEMAKER_BATCH", "true"}});
  job.max_payload_in_mb = 0;
  job.batch_strategy = BatchStrategy::single_record;
  job.max_concurrent_transforms = 3;
  CHECK(batch_environment(job) == Environment{{"SAGEMAKER_BATCH", "true"},
                                              {"SAGEMAKER_MAX_PAYLOAD_IN_MB", "0"},
                                              {"SAGEMAKER_BATCH_STRATEGY", "SINGLE_RECORD"},
                                              {"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "3"}});
  job.batch_strategy = BatchStrategy::multi_record;
  job.max_payload_in_mb.reset();
  job.max_concurrent_transforms.reset();
  CHECK(batch_environment(job) ==
        Environment{{"SAGEMAKER_BATCH", "true"}, {"SAGEMAKER_BATCH_STRATEGY", "MULTI_RECORD"}});
}

TEST_CASE("Stages get the job's Environment, then the batch variables", "[execution]") {
  TransformJob job;
  job.environment = {{"LOG_LEVEL", "debug"}, {"SAGEMAKER_BATCH", "false"}};
  CHECK(stage_environment(job) == Environment{{"LOG_LEVEL", "debug"}, {"SAGEMAKER_BATCH", "true"}});
}
