#include "pipeline/batch/policy.h"

#include <catch2/catch.hpp>
#include <limits>

using namespace tandem;

namespace {

spec::PipelineSpec two_stages() {
  spec::PipelineSpec spec;
  spec.name = "p";
  spec::StageSpec a;
  a.name = "a";
  a.env["SAGEMAKER_BATCH"] = "false";
  a.env["KEEP"] = "1";
  spec::StageSpec b;
  b.name = "b";
  spec.stages = {a, b};
  return spec;
}

proto::Error stage_error(int status) {
  proto::StageFailure f;
  f.stage = "model";
  f.container = "container-2";
  f.original_status = status;
  return status == 0 ? proto::Error::stage_failed(f, "connection reset")
                     : proto::Error::stage_status(f);
}

}  // namespace

TEST_CASE("the job's environment and batch variables reach every stage") {
  transform::TransformJob job;
  job.environment = {{"MODEL_MODE", "fast"}};
  job.max_payload_in_mb = 2;
  const auto spec = batch::job_spec(two_stages(), job);
  for (const auto& stage : spec.stages) {
    CHECK(stage.env.at("SAGEMAKER_BATCH") == "true");
    CHECK(stage.env.at("MODEL_MODE") == "fast");
    CHECK(stage.env.at("SAGEMAKER_MAX_PAYLOAD_IN_MB") == "2");
    CHECK(stage.env.count("SAGEMAKER_BATCH_STRATEGY") == 0);  // the job left it unset
  }
  CHECK(spec.stages[0].env.at("KEEP") == "1");
}

TEST_CASE("InvocationsTimeoutInSeconds bounds every stage call and the chain call") {
  transform::TransformJob job;
  job.invocations_timeout_s = 42;
  const auto spec = batch::job_spec(two_stages(), job);
  CHECK(spec.server.invocation_timeout == std::chrono::seconds(42));
  for (const auto& stage : spec.stages) CHECK(stage.timeout == std::chrono::seconds(42));
}

TEST_CASE("stage answers may be as large as SageMaker's payload ceiling, or unlimited") {
  transform::TransformJob job;
  CHECK(batch::job_spec(two_stages(), job).server.stage_payload_bytes == 100ull << 20);
  auto larger = two_stages();
  larger.server.stage_payload_bytes = 200ull << 20;
  CHECK(batch::job_spec(larger, job).server.stage_payload_bytes == 200ull << 20);
  job.max_payload_in_mb = 0;
  CHECK(batch::job_spec(two_stages(), job).server.stage_payload_bytes ==
        std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("failures that can pass are retried, but a stage's 4xx is not") {
  CHECK(batch::retryable(stage_error(0)));
  CHECK(batch::retryable(stage_error(500)));
  CHECK(batch::retryable(stage_error(503)));
  CHECK(batch::retryable(stage_error(429)));
  CHECK_FALSE(batch::retryable(stage_error(400)));
  CHECK_FALSE(batch::retryable(stage_error(413)));
  CHECK(batch::retryable(proto::Error::unavailable("stage 'model' is restarting")));
  CHECK_FALSE(batch::retryable(proto::Error::validation("bad header")));
  CHECK_FALSE(batch::retryable(proto::Error::internal("bug")));
}

TEST_CASE("backoff doubles from 1 s up to 8 s") {
  CHECK(batch::backoff(0) == std::chrono::seconds(1));
  CHECK(batch::backoff(1) == std::chrono::seconds(2));
  CHECK(batch::backoff(2) == std::chrono::seconds(4));
  CHECK(batch::backoff(3) == std::chrono::seconds(8));
  CHECK(batch::backoff(10) == std::chrono::seconds(8));
}
