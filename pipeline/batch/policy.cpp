#include "pipeline/batch/policy.h"

#include <algorithm>
#include <limits>

#include "pipeline/transform/execution.h"

namespace tandem::batch {

namespace {
constexpr std::uint64_t kMiB = 1024 * 1024;
}

spec::PipelineSpec job_spec(spec::PipelineSpec spec, const transform::TransformJob& job) {
  const std::chrono::milliseconds timeout(job.invocations_timeout_s * 1000);
  spec.server.invocation_timeout = timeout;
  const bool unlimited = job.max_payload_in_mb && *job.max_payload_in_mb == 0;
  spec.server.stage_payload_bytes =
      unlimited ? std::numeric_limits<std::uint64_t>::max()
                : std::max<std::uint64_t>(spec.server.stage_payload_bytes,
                                          transform::kMaxPayloadInMB * kMiB);
  const auto environment = transform::stage_environment(job);
  for (auto& stage : spec.stages) {
    stage.timeout = timeout;
    for (const auto& [key, value] : environment) stage.env[key] = value;
  }
  return spec;
}

bool retryable(const proto::Error& error) {
  if (error.type == proto::ErrorType::unavailable) return true;
  if (error.type != proto::ErrorType::model || !error.stage) return false;
  const int status = error.stage->original_status;
  return status == 0 || status == 429 || status >= 500;
}

std::chrono::milliseconds backoff(int attempt) {
  return std::chrono::milliseconds(1000 << std::clamp(attempt, 0, 3));
}

}  // namespace tandem::batch
