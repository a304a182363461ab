// The running part of a transform job, once its stages are up: a reader thread reads each
// input object (ObjectReader) and hands every mini-batch to the event loop, which calls the
// chain (BatchInvoker) with retries; at most `max_in_flight` batches are in flight or waiting
// to be written. A writer thread takes the results in input order and commits them
// (ObjectCommit). Memory is bounded by the in-flight batches, whatever the input's size.
//
// Threads: start(), stop() and the awaitables run on the event loop; the mutex guards the
// queue, the slots and each Request's late fields. Two gates replace polling: one counts the
// worker threads (each posts its leave), one the chain calls still running.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/batch/commit.h"
#include "pipeline/batch/inputs.h"
#include "pipeline/batch/invoker.h"
#include "pipeline/batch/object_reader.h"
#include "pipeline/batch/policy.h"
#include "pipeline/batch/report.h"
#include "pipeline/batch/request.h"
#include "pipeline/common/gate.h"

namespace tandem::batch {

struct JobSettings {
  ReadSettings read;
  CommitSettings commit;
  std::size_t max_in_flight = 1;            // MaxConcurrentTransforms
  int max_retries = 0;                      // InvocationsMaxRetries
  std::optional<std::string> content_type;  // of every request
  std::optional<std::string> accept;
  std::string job_name;  // the start of every inference id
  // The wait before retry number `attempt + 1`.
  std::function<std::chrono::milliseconds(int attempt)> backoff = batch::backoff;
};

class JobRunner {
 public:
  // `inputs` and `invoker` must outlive the runner.
  JobRunner(boost::asio::io_context& io, JobSettings settings,
            const std::vector<InputObject>& inputs, BatchInvoker& invoker);
  // Stops and joins the threads if they still run.
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Starts the reader and writer threads.
  void start();
  // Waits until both threads have ended or `timeout` has passed; the threads still running.
  boost::asio::awaitable<std::size_t> wait(
      std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt);
  // wait(), then joins the threads: every object is committed, or the job was stopped.
  boost::asio::awaitable<void> finish();
  // Waits for the chain calls still running (a stopped job's end once their stages are gone).
  boost::asio::awaitable<void> calls_ended();
  // Reading stops, the writer stops and unfinished outputs are discarded.
  void stop();

  // Fills the counters of `progress` (objects done and failed, records, bytes read).
  void count(Progress& progress) const;
  std::size_t objects_failed() const { return objects_failed_; }
  // One per input object, in input order; objects not reached are not_processed.
  std::vector<ObjectReport> reports() const;

 private:
  struct ObjectRun;
  class Feed;

  boost::asio::awaitable<void> call(std::shared_ptr<Request> request);
  chain::Invocation invocation(const Request& request) const;

  void read_all();
  bool enqueue(const std::shared_ptr<Request>& request);
  void push_end(std::size_t index, std::optional<ObjectFailure> failure);

  void write_all();
  std::shared_ptr<Request> next_result();
  void finish_object(ObjectRun& object, const Request& end);

  boost::asio::io_context& io_;
  const JobSettings settings_;
  BatchInvoker& invoker_;
  std::vector<std::unique_ptr<ObjectRun>> objects_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<Request>> queue_;  // in input order
  std::size_t in_flight_ = 0;                   // batches queued and not yet written
  std::atomic<bool> stopping_{false};
  // The streamed request the reader may be pushing to, interrupted by stop().
  std::shared_ptr<ChunkStream> streaming_;

  std::atomic<std::size_t> objects_done_{0};
  std::atomic<std::size_t> objects_failed_{0};
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> bytes_read_{0};

  common::Gate workers_;  // the reader and writer threads
  common::Gate calls_;    // chain calls running
  std::thread reader_;
  std::thread writer_;
};

}  // namespace tandem::batch
