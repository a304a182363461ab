// `tandem replay`: re-runs captured invocations (data capture files, SageMaker's or tandem's)
// through the pipeline, started here from its spec or running at --endpoint, and compares each
// answer with the captured one (compare.h). With --input, replays the records of batch input
// objects instead, with nothing to compare: for tracing one record through every stage.
//
// Threads: the stages, the chain executor (or the HTTP client) and the replay workers run on
// one Asio event loop. Capture files are read one at a time on a helper thread, so memory holds
// one file's events; up to --concurrency events of it are in flight at once.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/capture/capture_files.h"
#include "pipeline/spec/spec.h"

namespace tandem::capture {

struct ReplayOptions {
  std::optional<std::string> capture;  // a capture file, folder or s3:// prefix
  std::optional<std::string> input;    // or batch input objects (with `input_settings`)
  InputSettings input_settings;
  std::optional<std::string> endpoint;  // a running endpoint instead of starting the stages
  std::optional<std::string> trace_dir;
  std::vector<std::string> only;  // event ids; empty: all
  double tolerance = 1e-6;
  std::size_t concurrency = 1;
  std::optional<std::string> report_path;
};

inline constexpr int kReplayDiffered = 1;   // a difference, a failure or a malformed line
inline constexpr int kReplayCannotRun = 3;  // the capture or the pipeline could not be used

// Runs the replay, prints what differed and the totals on stdout, and returns the exit code:
// 0 only when every event matched, kReplayDiffered, kReplayCannotRun, or 128 + the signal
// number when stopped by SIGINT or SIGTERM.
int run_replay(const spec::PipelineSpec& spec, const ReplayOptions& options);

}  // namespace tandem::capture
