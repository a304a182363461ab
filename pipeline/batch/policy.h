// The rules a transform job applies to the pipeline and its calls, kept pure for testing:
// how the spec is adjusted for the job, which failed calls are retried and after how long.
#pragma once

#include <chrono>

#include "pipeline/spec/spec.h"
#include "pipeline/transform/job.h"
#include "tandem/proto/errors.h"

namespace tandem::batch {

// The spec as the job runs it: every stage gets the job's environment and the SAGEMAKER_BATCH
// variables (replacing the spec's values of the same names); InvocationsTimeoutInSeconds
// bounds each stage call and the whole chain call; a stage may answer up to SageMaker's
// 100 MiB payload ceiling, or the spec's stage_payload_mb if larger, and without limit when
// the job sets MaxPayloadInMB 0.
spec::PipelineSpec job_spec(spec::PipelineSpec spec, const transform::TransformJob& job);

// Retried: a stage that gave no answer (timeout, crash, reset), a 5xx or 429 from a stage,
// and a stage that is down or restarting. Not retried: a 4xx, which the stage would answer
// again for the same records, and errors that are not a stage's.
bool retryable(const proto::Error& error);

// The wait before retry number `attempt + 1`: 1 s, 2 s, 4 s, then 8 s.
std::chrono::milliseconds backoff(int attempt);

}  // namespace tandem::batch
