// The execution parameters a transform job runs with, and the SAGEMAKER_* environment its
// stages get. Pure: the runner asks the stage's GET /execution-parameters (adopted: the first
// stage; a stage that answers 404 or not at all has no answer) and passes the body here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/transform/job.h"
#include "pipeline/transform/options.h"
#include "pipeline/transform/result.h"

namespace tandem::transform {

struct ExecutionParameters {
  std::int64_t max_concurrent_transforms = 1;
  BatchStrategy batch_strategy = BatchStrategy::multi_record;
  std::int64_t max_payload_in_mb = 6;  // 0: no limit
};

// Per parameter: the job's value, else the container's answer, else the default (1,
// MultiRecord, 6). The answer, e.g. {"MaxConcurrentTransforms": 4, "BatchStrategy":
// "MULTI_RECORD", "MaxPayloadInMB": 6}, may omit any key and may hold others (ignored); a
// malformed answer is an error naming "/execution-parameters" and the key, so a container's
// mistake is not silently replaced by a default.
Result<ExecutionParameters> resolve_execution_parameters(
    const TransformJob& job, std::optional<std::string_view> container_answer);

using Environment = std::vector<std::pair<std::string, std::string>>;

// SAGEMAKER_BATCH=true, then, only for what the job itself set, SAGEMAKER_MAX_PAYLOAD_IN_MB,
// SAGEMAKER_BATCH_STRATEGY (MULTI_RECORD | SINGLE_RECORD) and
// SAGEMAKER_MAX_CONCURRENT_TRANSFORMS.
Environment batch_environment(const TransformJob& job);

// What every stage of the job gets on top of its spec's env: the job's Environment, then
// batch_environment(); a SAGEMAKER_* variable of the batch replaces the job's one.
Environment stage_environment(const TransformJob& job);

}  // namespace tandem::transform
