#include "pipeline/batch/job_runner.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pipeline/common/log.h"

namespace tandem::batch {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct JobRunner::ObjectRun {
  // The commit's first failure is told to the reader (which stops reading the object, or
  // waiting for a slot for it) and to the calls (which stop retrying).
  ObjectRun(JobRunner& runner, const InputObject& input)
      : input(input), commit(runner.settings_.commit, input, [this, &runner] {
          {
            std::lock_guard lock(runner.mutex_);
            failed = true;
          }
          runner.changed_.notify_all();
        }) {}

  const InputObject& input;
  // Set under the mutex by the writer's commit; read by the reader and the event loop.
  std::atomic<bool> failed{false};
  ReadTotals totals;    // the reader's; read by the writer after the object's end
  ObjectCommit commit;  // the writer's
};

// The reader's side of one object: where its ObjectReader puts what it reads.
class JobRunner::Feed final : public ReadSink {
 public:
  Feed(JobRunner& runner, std::size_t index)
      : runner_(runner), index_(index), object_(*runner.objects_[index]) {}

  bool abandoned() const override { return runner_.stopping_ || object_.failed; }
  const std::atomic<bool>& stopping() const override { return runner_.stopping_; }

  void records_read(std::uint64_t count) override {
    object_.totals.records += count;
    runner_.records_.fetch_add(count, std::memory_order_relaxed);
  }
  void bytes_read(std::uint64_t count) override {
    object_.totals.bytes_read += count;
    runner_.bytes_read_.fetch_add(count, std::memory_order_relaxed);
  }

  bool submit(transform::Batch batch) override {
    auto request = std::make_shared<Request>();
    request->object = index_;
    request->batch = std::move(batch);
    return runner_.enqueue(request);
  }

  std::shared_ptr<ChunkStream> start_stream(std::uint64_t first_record_index,
                                            std::uint64_t first_offset) override {
    streamed_ = std::make_shared<Request>();
    streamed_->object = index_;
    streamed_->batch.first_record_index = first_record_index;
    streamed_->batch.first_offset = first_offset;
    streamed_->stream = std::make_shared<ChunkStream>(runner_.io_.get_executor());
    streamed_->input_complete = false;
    {
      std::lock_guard lock(runner_.mutex_);
      runner_.streaming_ = streamed_->stream;
    }
    if (runner_.enqueue(streamed_)) return streamed_->stream;
    std::lock_guard lock(runner_.mutex_);  // refused: no end_stream() will come to clear it
    runner_.streaming_.reset();
    return nullptr;
  }

  void end_stream(transform::Batch counts, bool complete,
                  std::optional<std::string> failure) override {
    {
      std::lock_guard lock(runner_.mutex_);
      streamed_->batch.record_count = counts.record_count;
      streamed_->batch.join_inputs = std::move(counts.join_inputs);
      streamed_->input_complete = true;
      streamed_->stream_cut = !complete;
      runner_.streaming_.reset();
    }
    streamed_->stream->close(std::move(failure));
    runner_.changed_.notify_all();
  }

 private:
  JobRunner& runner_;
  std::size_t index_;
  ObjectRun& object_;
  std::shared_ptr<Request> streamed_;
};

JobRunner::JobRunner(asio::io_context& io, JobSettings settings,
                     const std::vector<InputObject>& inputs, BatchInvoker& invoker)
    : io_(io),
      settings_(std::move(settings)),
      invoker_(invoker),
      workers_(io.get_executor()),
      calls_(io.get_executor()) {
  for (const auto& input : inputs) objects_.push_back(std::make_unique<ObjectRun>(*this, input));
}

JobRunner::~JobRunner() {
  if (reader_.joinable() || writer_.joinable()) {
    stop();
    if (reader_.joinable()) reader_.join();
    if (writer_.joinable()) writer_.join();
  }
}

// ---- the event loop's part ------------------------------------------------------------------

void JobRunner::start() {
  workers_.enter();
  workers_.enter();
  // A thread's end is posted to the loop, which owns the gate.
  auto done = [this] { asio::post(io_, [this] { workers_.leave(); }); };
  reader_ = std::thread([this, done] {
    read_all();
    done();
  });
  writer_ = std::thread([this, done] {
    write_all();
    done();
  });
}

asio::awaitable<std::size_t> JobRunner::wait(std::optional<Clock::duration> timeout) {
  co_return co_await workers_.wait(timeout);
}

asio::awaitable<void> JobRunner::finish() {
  co_await workers_.wait();
  reader_.join();
  writer_.join();
}

asio::awaitable<void> JobRunner::calls_ended() {
  co_await calls_.wait();
}

void JobRunner::stop() {
  std::shared_ptr<ChunkStream> streaming;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    streaming = streaming_;
  }
  changed_.notify_all();
  if (streaming) streaming->interrupt();
}

chain::Invocation JobRunner::invocation(const Request& request) const {
  chain::Invocation invocation;
  if (request.stream) {
    invocation.body_source = request.stream;
  } else {
    invocation.body = request.batch.bytes;  // a copy: the batch is kept for retries
  }
  invocation.content_type = settings_.content_type;
  invocation.accept = settings_.accept;
  invocation.inference_id = fmt::format("{}-{}-{}", settings_.job_name.substr(0, 40),
                                        request.object, request.batch.first_record_index);
  return invocation;
}

asio::awaitable<void> JobRunner::call(std::shared_ptr<Request> request) {
  const auto& object = *objects_[request->object];
  asio::steady_timer timer(io_);
  for (int attempt = 0;; ++attempt) {
    request->result = co_await invoker_.invoke(invocation(*request));
    request->attempts = attempt + 1;
    const auto& error = request->result.error;
    // A streamed body is gone once sent: the object fails rather than being read again.
    if (!error || attempt >= settings_.max_retries || !retryable(*error) || stopping_ ||
        object.failed || request->stream) {
      co_return;
    }
    const auto delay = settings_.backoff(attempt);
    const auto& batch = request->batch;
    log::warn(
        "{}: records {}-{}: attempt {} of {} failed ({}); retrying in {:g} s", object.input.uri,
        batch.first_record_index, batch.first_record_index + batch.record_count - 1, attempt + 1,
        settings_.max_retries + 1, error->message, std::chrono::duration<double>(delay).count());
    timer.expires_after(delay);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

// ---- the reader thread ----------------------------------------------------------------------

void JobRunner::read_all() {
  for (std::size_t i = 0; i < objects_.size() && !stopping_; ++i) {
    auto& object = *objects_[i];
    object.totals.started = Clock::now();
    std::optional<ObjectFailure> failure;
    // The store's errors come back as values (store_calls.h); anything else thrown while
    // reading (an allocation) fails the object the same way rather than the whole process.
    try {
      Feed feed(*this, i);
      ObjectReader reader(settings_.read, object.input, feed);
      if (auto read = reader.read(); !read) failure = std::move(read).error();
    } catch (const std::exception& e) {
      failure = ObjectFailure::storage(e.what());
    }
    push_end(i, std::move(failure));
  }
}

// Waits for a free slot, queues the request for the writer and starts it on the event loop.
bool JobRunner::enqueue(const std::shared_ptr<Request>& request) {
  auto& object = *objects_[request->object];
  {
    std::unique_lock lock(mutex_);
    changed_.wait(
        lock, [&] { return in_flight_ < settings_.max_in_flight || stopping_ || object.failed; });
    if (stopping_ || object.failed) return false;
    ++in_flight_;
    queue_.push_back(request);
  }
  ++object.totals.requests;
  asio::post(io_, [this, request] {
    calls_.enter();
    asio::co_spawn(io_, call(request), [this, request](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          request->result.error = proto::Error::internal(ex.what());
        }
      }
      if (request->stream) request->stream->finished();
      {
        std::lock_guard lock(mutex_);
        request->done = true;
      }
      changed_.notify_all();
      calls_.leave();
    });
  });
  return true;
}

void JobRunner::push_end(std::size_t index, std::optional<ObjectFailure> failure) {
  auto end = std::make_shared<Request>();
  end->object = index;
  end->end = true;
  end->read_failure = std::move(failure);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(end));
  }
  changed_.notify_all();
}

// ---- the writer thread ----------------------------------------------------------------------

void JobRunner::write_all() {
  std::size_t ended = 0;
  while (ended < objects_.size()) {
    auto request = next_result();
    if (!request) break;  // stopping
    auto& object = *objects_[request->object];
    if (request->end) {
      finish_object(object, *request);
      ++ended;
      continue;
    }
    object.commit.consume(*request);
    request.reset();  // the batch and its response are freed before the slot is
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
    }
    changed_.notify_all();
  }
  // Stopped: nothing half-written may stay.
  for (auto& object : objects_) object->commit.abort();
}

// The queue's front once its result is in (or it is an object's end); nullptr when stopping.
std::shared_ptr<Request> JobRunner::next_result() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    if (stopping_ || queue_.empty()) return stopping_.load();
    const auto& front = *queue_.front();
    return front.end || (front.done && front.input_complete);
  });
  if (stopping_) return nullptr;
  auto request = std::move(queue_.front());
  queue_.pop_front();
  return request;
}

void JobRunner::finish_object(ObjectRun& object, const Request& end) {
  object.commit.finish(end.read_failure, object.totals);
  if (object.commit.failed()) objects_failed_.fetch_add(1);
  objects_done_.fetch_add(1);
}

// ---- what it did ----------------------------------------------------------------------------

void JobRunner::count(Progress& progress) const {
  progress.objects_done = objects_done_;
  progress.objects_failed = objects_failed_;
  progress.records = records_;
  progress.bytes_read = bytes_read_;
}

std::vector<ObjectReport> JobRunner::reports() const {
  std::vector<ObjectReport> reports;
  for (const auto& object : objects_) reports.push_back(object->commit.report());
  return reports;
}

}  // namespace tandem::batch
