// What a transform job did, per object and in total: printed as the closing summary, written
// as JSON by --report (DescribeTransformJob's fields where they apply, plus per-object counts
// and timings), and shown while the job runs as a progress bar (terminal) or line (elsewhere).
// Pure formatting; the runner fills the values.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pipeline/batch/failure.h"
#include "pipeline/transform/execution.h"
#include "pipeline/transform/job.h"
#include "pipeline/transform/naming.h"

namespace tandem::batch {

enum class ObjectStatus { completed, failed, not_processed };

struct ObjectReport {
  std::string input;   // URI
  std::string output;  // URI of the `.out`
  ObjectStatus status = ObjectStatus::not_processed;
  std::uint64_t records = 0;        // read from the input
  std::uint64_t requests = 0;       // mini-batches sent (retries not counted)
  std::uint64_t bytes_read = 0;     // of the object as stored (compressed for Gzip)
  std::uint64_t bytes_written = 0;  // to the `.out`
  double seconds = 0;
  std::optional<ObjectFailure> failure;
};

enum class JobStatus { completed, failed, stopped };

// An entry of the input folder that was not read, and why.
struct SkippedInput {
  std::string input;   // URI
  std::string reason;  // "a symbolic link (to /etc); tandem does not follow links ..."
  friend bool operator==(const SkippedInput&, const SkippedInput&) = default;
};

// What the input listing did not take, so that a job never looks complete while data was
// silently left aside: symbolic links (never followed) and special files, and the objects
// under the output folder when it lies inside the input (never read back as input).
struct LeftOut {
  std::vector<SkippedInput> skipped;
  std::size_t in_output_folder = 0;
  std::string output_folder;  // its URI
};

struct JobReport {
  std::string name;
  JobStatus status = JobStatus::completed;
  std::string failure_reason;  // DescribeTransformJob's FailureReason
  transform::TransformJob job;
  // Environment names whose values the report shows as <secret> (spec::secret_env_names).
  std::set<std::string> secret_env;
  transform::ExecutionParameters parameters;
  transform::Shard shard;
  std::size_t listed = 0;        // objects the input names
  std::size_t other_shards = 0;  // left to other hosts
  std::vector<std::string> resumed;
  LeftOut left_out;
  std::vector<ObjectReport> objects;
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point ended;
};

std::string_view to_string(ObjectStatus status);
std::string_view to_string(JobStatus status);

// "records 10-19 (byte offset 1234): stage 'model' (container-2) answered 500 after 4
// attempts: <message>"
std::string describe(const ObjectFailure& failure);

// One line of `<name>.out.errors` (JSON Lines): the failure, and the failed request's body
// when there was one (`data` as text when it is valid UTF-8, else `data_base64`).
std::string error_line(const std::string& input_uri, const ObjectFailure& failure,
                       std::optional<std::string_view> data);

// The closing summary, several lines: the outcome, the totals, each failed object.
std::string summary(const JobReport& report);

nlohmann::ordered_json to_json(const JobReport& report);

// The state of a running job, for the progress display.
struct Progress {
  std::size_t objects_done = 0;
  std::size_t objects_total = 0;
  std::size_t objects_failed = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_total = 0;  // 0 when unknown (manifest inputs are not sized)
  double seconds = 0;
};

// "[#########...........] 3/10 objects · 1234567 records · 512.0 MiB/1.0 GiB · 85.3 MiB/s ·
// ETA 6s", at most `width` columns.
std::string progress_bar(const Progress& progress, std::size_t width);
// "progress: 3/10 objects, 1 failed, 1234567 records, 512.0 MiB of 1.0 GiB read (50%),
// 85.3 MiB/s, ETA 6s"
std::string progress_line(const Progress& progress);

std::string human_bytes(std::uint64_t bytes);  // "512.0 MiB"

// The progress in Prometheus text format, for node_exporter's textfile collector
// (--metrics-file): tandem_transform_objects{state="total|done|failed"},
// tandem_transform_records_total, tandem_transform_read_bytes_total, tandem_transform_running,
// tandem_transform_start_time_seconds and, once the job has ended, tandem_transform_success
// (1 when every object completed); each labelled job="<name>".
std::string progress_metrics(const Progress& progress, std::string_view job_name, bool running,
                             std::optional<bool> succeeded, double started_unix_seconds);

}  // namespace tandem::batch
