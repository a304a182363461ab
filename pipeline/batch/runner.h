// `tandem transform`: runs a transform job (CreateTransformJob semantics, contract section 4)
// through the pipeline's stages on this host.
//
// Threads: the stages, the supervisor and the chain executor live on one Asio event loop, as
// in `tandem serve`. A reader thread streams each input object (blocking object-store reads,
// gzip, splitting, InputFilter, batching) and hands every mini-batch to the loop, which calls
// the chain with retries; at most MaxConcurrentTransforms batches are in flight or waiting to
// be written. A writer thread takes the results in input order, applies OutputFilter and the
// join, and appends them to the object's output, which becomes visible only when the whole
// object succeeded (storage commit). Memory is bounded by the in-flight batches, whatever the
// input's size.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pipeline/spec/spec.h"
#include "pipeline/transform/job.h"
#include "pipeline/transform/naming.h"

namespace tandem::batch {

struct RunOptions {
  bool resume = false;                     // skip objects whose `.out` exists
  transform::Shard shard;                  // the objects this host takes
  std::optional<std::string> report_path;  // write the summary as JSON here
  bool quiet = false;                      // no progress output
  // Rewritten (atomically) every 5 s and at the end with the progress in Prometheus text
  // format, for node_exporter's textfile collector.
  std::optional<std::string> metrics_path;
  std::vector<std::string> notes;  // from parsing the job (ignored fields), logged
};

inline constexpr int kExitFailed = 1;  // an object failed, or the job could not start

// Runs the job and returns the process exit code: 0 when every object was transformed,
// kExitFailed otherwise, 128 + the signal number when stopped by SIGINT or SIGTERM.
int run_transform(const spec::PipelineSpec& spec, const transform::TransformJob& job,
                  const RunOptions& options);

}  // namespace tandem::batch
