// Committing one object's results, in input order, on the job's writer thread: each answer
// goes through OutputFilter and the join and is appended to the object's output, which
// becomes its `.out` only when the whole object succeeded (storage commit). The first failure
// aborts the output, notifies the job (so the reader stops reading the object and no retry
// starts) and is the object's; every failure is a line of its `.out.errors`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/batch/failure.h"
#include "pipeline/batch/inputs.h"
#include "pipeline/batch/report.h"
#include "pipeline/batch/request.h"
#include "pipeline/storage/object_store.h"
#include "pipeline/transform/data_processing.h"
#include "pipeline/transform/job.h"

namespace tandem::batch {

// What the job says about its output; the processor and the store must outlive the commits.
struct CommitSettings {
  storage::ObjectStore* output_store = nullptr;
  const transform::DataProcessor* processor = nullptr;
  std::optional<std::string> accept;  // the answer's type when a stage does not say
  transform::AssembleWith assemble_with = transform::AssembleWith::none;
};

// What the reader counted of the object, for its report.
struct ReadTotals {
  std::uint64_t records = 0;
  std::uint64_t requests = 0;
  std::uint64_t bytes_read = 0;
  std::chrono::steady_clock::time_point started{};
};

// The report of an object the job did not reach (stopped, or the stages never started).
ObjectReport not_processed(const InputObject& input);

class ObjectCommit {
 public:
  // `on_failure` is called once, on the first failure, before anything else is done about it.
  ObjectCommit(const CommitSettings& settings, const InputObject& input,
               std::function<void()> on_failure);
  ObjectCommit(const ObjectCommit&) = delete;
  ObjectCommit& operator=(const ObjectCommit&) = delete;

  // The next request's result, in input order.
  void consume(const Request& request);
  // The object's end: commits the output (or writes `.out.errors`) and completes the report.
  // `read_failure`: why the reader stopped early, if it did.
  void finish(const std::optional<ObjectFailure>& read_failure, const ReadTotals& totals);
  // The job stopped: nothing half-written may stay.
  void abort();

  bool failed() const { return failed_; }
  const ObjectReport& report() const { return report_; }

 private:
  void fail(ObjectFailure failure, std::optional<std::string_view> data);
  tandem::Status<ObjectFailure> append(const std::string& bytes);
  tandem::Status<ObjectFailure> commit_output();
  void write_errors();

  const CommitSettings& settings_;
  const InputObject& input_;
  std::function<void()> on_failure_;
  bool failed_ = false;
  std::unique_ptr<storage::OutputObject> output_;
  std::string error_lines_;
  ObjectReport report_;
};

}  // namespace tandem::batch
