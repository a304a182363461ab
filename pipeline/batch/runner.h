// `tandem transform`: runs a transform job (CreateTransformJob semantics, contract section 4)
// through the pipeline's stages on this host.
//
// The command checks the job and the input listing, starts the stages on one Asio event loop
// (as `tandem serve` does), hands the objects to a JobRunner (job_runner.h: the reader and
// writer threads, the calls with retries, in input order), shows the progress and writes the
// report. Reading an object is ObjectReader's (object_reader.h), committing its results
// ObjectCommit's (commit.h).
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
