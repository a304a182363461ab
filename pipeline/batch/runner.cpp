#include "pipeline/batch/runner.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "pipeline/batch/chunk_stream.h"
#include "pipeline/batch/inputs.h"
#include "pipeline/batch/policy.h"
#include "pipeline/batch/report.h"
#include "pipeline/chain/executor.h"
#include "pipeline/common/log.h"
#include "pipeline/common/private_file.h"
#include "pipeline/runtime/event_loop.h"
#include "pipeline/runtime/stage_runtime.h"
#include "pipeline/transform/batcher.h"
#include "pipeline/transform/data_processing.h"
#include "pipeline/transform/execution.h"
#include "pipeline/transform/gzip.h"
#include "pipeline/transform/splitter.h"
#include "tandem/proto/json_depth.h"

namespace tandem::batch {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunkBytes = 1024 * 1024;

// One mini-batch on its way through the chain, or the end of an object.
struct Pending {
  std::size_t object = 0;
  bool end = false;
  std::optional<ObjectFailure> read_failure;  // with `end`: why reading stopped
  transform::Batch batch;
  // MaxPayloadInMB 0: the object streamed as this one request. The reader fills `batch`'s
  // counts while it streams and sets `input_complete` (under the runner's mutex) at the end.
  std::shared_ptr<ChunkStream> stream;
  bool input_complete = true;
  bool stream_cut = false;  // the reader stopped before the object's end
  // Set on the event loop; read by the writer once `done`.
  bool done = false;
  chain::InvocationResult result;
  int attempts = 0;
};

struct ObjectRun {
  const InputObject* input = nullptr;
  std::atomic<bool> failed{false};
  // Reader's, read by the writer after the object's end marker.
  std::uint64_t records = 0;
  std::uint64_t requests = 0;
  std::uint64_t bytes_read = 0;
  Clock::time_point started{};
  // Writer's.
  std::unique_ptr<storage::OutputObject> output;
  std::string error_lines;
  ObjectReport report;
};

class ObjectReader;

class Runner {
 public:
  Runner(asio::io_context& io, const spec::PipelineSpec& spec, const transform::TransformJob& job,
         const RunOptions& options)
      : io_(io), spec_(job_spec(spec, job)), job_(job), options_(options) {}

  int exit_code() const { return exit_code_; }

  asio::awaitable<void> run();
  void stop(int signal_number);

 private:
  asio::awaitable<bool> prepare();
  asio::awaitable<std::optional<std::string>> execution_parameters_answer();
  asio::awaitable<void> call(std::shared_ptr<Pending> pending);

  void read_all();
  std::optional<ObjectFailure> read_object(std::size_t index);
  bool submit(std::size_t index, transform::Batch batch);
  bool enqueue(const std::shared_ptr<Pending>& pending);
  void push_end(std::size_t index, std::optional<ObjectFailure> failure);

  friend class ObjectReader;

  void write_all();
  void consume(ObjectRun& object, Pending& pending);
  void fail(ObjectRun& object, ObjectFailure failure, std::optional<std::string_view> data);
  void finish(ObjectRun& object, const std::optional<ObjectFailure>& read_failure);

  Progress progress() const;
  void show_progress(bool final);
  asio::awaitable<void> progress_loop();
  void write_metrics(bool running, std::optional<bool> succeeded);
  void finish_report();

  asio::io_context& io_;
  const spec::PipelineSpec spec_;
  const transform::TransformJob& job_;
  const RunOptions& options_;
  int exit_code_ = 0;

  std::unique_ptr<runtime::StageRuntime> stages_;
  InputPlan plan_;
  transform::ExecutionParameters parameters_;
  std::optional<transform::DataProcessor> processor_;
  std::uint64_t payload_limit_ = 0;
  transform::ReadingPlan reading_;
  std::string job_name_;
  JobReport report_;
  Clock::time_point started_ = Clock::now();
  std::chrono::system_clock::time_point started_wall_ = std::chrono::system_clock::now();

  std::vector<std::unique_ptr<ObjectRun>> objects_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<Pending>> queue_;  // in input order
  std::size_t in_flight_ = 0;                   // batches queued and not yet written
  std::size_t max_in_flight_ = 1;
  std::atomic<bool> stopping_{false};
  int stop_signal_ = 0;
  std::atomic<std::size_t> calls_running_{0};

  std::atomic<std::size_t> objects_done_{0};
  std::atomic<std::size_t> objects_failed_{0};
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> bytes_read_{0};
  bool tty_ = ::isatty(STDERR_FILENO) == 1;
  bool progress_shown_ = false;

  std::thread reader_;
  std::thread writer_;
  std::unique_ptr<asio::steady_timer> workers_done_;
  int workers_running_ = 0;
};

// ---- start-up -------------------------------------------------------------------------------

asio::awaitable<std::optional<std::string>> Runner::execution_parameters_answer() {
  const auto answer = co_await stages_->first_stage_parameters(std::chrono::seconds(5));
  // What the spec declares wins over the stage's answer, as `tandem serve` answers it.
  const auto& declared = spec_.execution_parameters;
  if (!declared.max_concurrent_transforms && !declared.batch_strategy && !declared.max_payload_mb)
    co_return answer;
  nlohmann::json merged = nlohmann::json::object();
  if (answer) {
    std::string why;
    auto parsed = proto::json::parse_bounded<nlohmann::json>(*answer, why);
    if (parsed.is_object()) merged = std::move(parsed);
    if (!why.empty()) log::warn("first stage's /execution-parameters answer ignored: {}", why);
  }
  if (declared.max_concurrent_transforms)
    merged["MaxConcurrentTransforms"] = *declared.max_concurrent_transforms;
  if (declared.batch_strategy) merged["BatchStrategy"] = *declared.batch_strategy;
  if (declared.max_payload_mb) merged["MaxPayloadInMB"] = *declared.max_payload_mb;
  co_return merged.dump();
}

// Everything that can be checked before a stage runs, then the stages. False: the job cannot
// run; the reason is logged and in the report.
asio::awaitable<bool> Runner::prepare() {
  job_name_ = job_.name.value_or(spec_.name + "-transform");
  report_.name = job_name_;
  report_.job = job_;
  report_.secret_env = spec::secret_env_names(spec_);
  report_.shard = options_.shard;
  for (const auto& note : options_.notes) log::info("{}", note);

  std::string failure;
  const auto input_format = transform::data_format_of(job_.input.content_type.value_or(""));
  auto processor = transform::DataProcessor::create(job_.data_processing, input_format);
  if (!processor) {
    failure = "DataProcessing: " + processor.error().message;
  } else {
    processor_.emplace(std::move(*processor));
    try {
      plan_ = plan_inputs(job_, options_.shard, options_.resume);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  report_.listed = plan_.listed;
  report_.other_shards = plan_.other_shards;
  report_.resumed = plan_.resumed;
  report_.left_out = plan_.left_out;
  if (!failure.empty()) {
    report_.status = JobStatus::failed;
    report_.failure_reason = failure;
    co_return false;
  }
  log::info("transform job '{}': {} object(s) listed; {} for this host{}{}", job_name_,
            plan_.listed, plan_.objects.size(),
            options_.shard.count > 1
                ? fmt::format(" (shard {} of {})", options_.shard.index, options_.shard.count)
                : std::string(),
            plan_.resumed.empty()
                ? std::string()
                : fmt::format("; {} already done (--resume)", plan_.resumed.size()));
  for (const auto& input : plan_.objects) {
    auto run = std::make_unique<ObjectRun>();
    run->input = &input;
    run->report.input = input.uri;
    run->report.output = input.output_uri;
    objects_.push_back(std::move(run));
  }
  if (objects_.empty()) co_return true;

  stages_ = std::make_unique<runtime::StageRuntime>(io_.get_executor(), spec_);
  try {
    co_await stages_->start();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (stopping_) co_return false;
  if (failure.empty()) {
    const auto answer = co_await execution_parameters_answer();
    auto parameters = transform::resolve_execution_parameters(
        job_, answer ? std::optional<std::string_view>(*answer) : std::nullopt);
    if (parameters) {
      parameters_ = *parameters;
    } else {
      failure = parameters.error().message;
    }
  }
  if (!failure.empty()) {
    report_.status = JobStatus::failed;
    report_.failure_reason = failure;
    co_return false;
  }
  report_.parameters = parameters_;
  payload_limit_ = transform::payload_limit_bytes(parameters_.max_payload_in_mb);
  reading_ =
      transform::plan_reading(payload_limit_, parameters_.batch_strategy, job_.input.split_type,
                              processor_->filters_input() || processor_->joins());
  max_in_flight_ =
      static_cast<std::size_t>(std::max<std::int64_t>(1, parameters_.max_concurrent_transforms));
  log::info(
      "transform job '{}': {} in flight at most, {}, MaxPayloadInMB {}, split {}, "
      "InvocationsTimeoutInSeconds {}, InvocationsMaxRetries {}",
      job_name_, max_in_flight_, transform::to_string(parameters_.batch_strategy),
      parameters_.max_payload_in_mb, transform::to_string(job_.input.split_type),
      job_.invocations_timeout_s, job_.invocations_max_retries);
  co_return true;
}

// ---- the event loop's part: chain calls with retries -----------------------------------------

asio::awaitable<void> Runner::call(std::shared_ptr<Pending> pending) {
  const auto& object = *objects_[pending->object];
  asio::steady_timer timer(io_);
  for (int attempt = 0;; ++attempt) {
    chain::Invocation invocation;
    if (pending->stream) {
      invocation.body_source = pending->stream;
    } else {
      invocation.body = pending->batch.bytes;  // a copy: the batch is kept for retries
    }
    invocation.content_type = job_.input.content_type;
    invocation.accept = job_.output.accept;
    invocation.inference_id = fmt::format("{}-{}-{}", job_name_.substr(0, 40), pending->object,
                                          pending->batch.first_record_index);
    pending->result = co_await stages_->chain().invoke(std::move(invocation));
    pending->attempts = attempt + 1;
    const auto& error = pending->result.error;
    // A streamed body is gone once sent: the object fails rather than being read again.
    if (!error || attempt >= job_.invocations_max_retries || !retryable(*error) || stopping_ ||
        object.failed || pending->stream) {
      co_return;
    }
    const auto delay = backoff(attempt);
    log::warn("{}: records {}-{}: attempt {} of {} failed ({}); retrying in {:g} s",
              object.input->uri, pending->batch.first_record_index,
              pending->batch.first_record_index + pending->batch.record_count - 1, attempt + 1,
              job_.invocations_max_retries + 1, error->message,
              std::chrono::duration<double>(delay).count());
    timer.expires_after(delay);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

// ---- the reader thread ----------------------------------------------------------------------

void Runner::read_all() {
  for (std::size_t i = 0; i < objects_.size() && !stopping_; ++i) {
    auto& object = *objects_[i];
    object.started = Clock::now();
    std::optional<ObjectFailure> failure;
    try {
      failure = read_object(i);
    } catch (const std::exception& e) {
      failure = ObjectFailure{};
      failure->error = "StorageError";
      failure->message = e.what();
    }
    push_end(i, std::move(failure));
  }
}

// Reads one object on the reader thread: its bytes inflated, split (or passed through),
// filtered and batched, or streamed as one request (MaxPayloadInMB 0). It stops, quietly,
// as soon as the object's request failed or the job is stopping, checking between any two
// pieces of input (a read chunk, an inflated piece); an error in the input is its failure.
// Lives for one call of Runner::read_object; owns the streamed request's pending piece.
class ObjectReader {
 public:
  ObjectReader(Runner& runner, std::size_t index);
  // A storage error thrown while reading still ends the streamed request.
  ~ObjectReader() { end_stream(false, "reading the object failed"); }
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;

  std::optional<ObjectFailure> read();

 private:
  transform::Status split(std::string_view bytes);
  transform::Status split_end();
  transform::Status take(transform::Result<std::vector<transform::Record>> records);
  transform::Status passed(std::uint64_t records_before);
  bool stream_record(const transform::Record& record);
  bool start_stream(std::uint64_t first_index, std::uint64_t first_offset);
  bool send_piece();
  void end_stream(bool complete, std::optional<std::string> failure);
  bool moot() const;
  transform::Status abandon();
  std::optional<ObjectFailure> input_failure(const transform::Error& error);

  Runner& runner_;
  std::size_t index_;
  ObjectRun& object_;
  std::unique_ptr<transform::RecordSplitter> splitter_;
  std::optional<transform::PassThroughSplitter> pass_through_;
  transform::Batcher batcher_;
  std::optional<transform::GzipInflater> inflater_;
  bool abandoned_ = false;  // the object failed downstream or the job is stopping
  // MaxPayloadInMB 0 with MultiRecord or SplitType None: the object as one streamed request.
  std::shared_ptr<Pending> streamed_;
  std::string piece_;        // its next piece, sent at 1 MiB
  transform::Batch counts_;  // its records, handed over at the end
  bool stream_ended_ = false;
};

std::optional<ObjectFailure> Runner::read_object(std::size_t index) {
  ObjectReader reader(*this, index);
  return reader.read();
}

ObjectReader::ObjectReader(Runner& runner, std::size_t index)
    : runner_(runner),
      index_(index),
      object_(*runner.objects_[index]),
      splitter_(transform::make_splitter(runner.job_.input.split_type, runner.reading_.record_limit,
                                         runner.reading_.limit_reason)),
      batcher_(runner.parameters_.batch_strategy, runner.payload_limit_,
               runner.processor_->joins()) {
  if (runner.reading_.pass_through) pass_through_.emplace(runner.job_.input.split_type);
  if (runner.job_.input.compression == transform::CompressionType::gzip) inflater_.emplace();
}

std::optional<ObjectFailure> ObjectReader::read() {
  auto stream = object_.input->store->open(object_.input->key);
  const transform::GzipInflater::Sink sink = [this](std::string_view bytes) {
    return split(bytes);
  };
  std::vector<char> buffer(kReadChunkBytes);
  for (;;) {
    if (moot()) {
      end_stream(false, std::nullopt);
      return std::nullopt;
    }
    const std::size_t n = stream->read(buffer.data(), buffer.size());
    if (n == 0) break;
    object_.bytes_read += n;
    runner_.bytes_read_.fetch_add(n, std::memory_order_relaxed);
    const std::string_view chunk(buffer.data(), n);
    transform::Status status = inflater_ ? inflater_->feed(chunk, sink) : split(chunk);
    if (!status) return input_failure(status.error());
  }
  if (inflater_) {
    if (auto status = inflater_->finish(); !status) return input_failure(status.error());
  }
  if (auto status = split_end(); !status) return input_failure(status.error());
  end_stream(true, std::nullopt);
  if (auto last = batcher_.finish()) runner_.submit(index_, std::move(*last));
  return std::nullopt;
}

// The object's request failed (failing the object), its streamed request is over, or the job
// is stopping: nothing more of the object is wanted.
bool ObjectReader::moot() const {
  return runner_.stopping_ || object_.failed || (streamed_ && streamed_->stream->over());
}

transform::Status ObjectReader::abandon() {
  abandoned_ = true;
  return transform::Error{"abandoned"};
}

transform::Status ObjectReader::split(std::string_view bytes) {
  if (moot()) return abandon();
  if (!pass_through_) return take(splitter_->feed(bytes));
  const std::uint64_t before = pass_through_->records();
  pass_through_->feed(bytes, piece_);
  return passed(before);
}

transform::Status ObjectReader::split_end() {
  if (!pass_through_) return take(splitter_->finish());
  const std::uint64_t before = pass_through_->records();
  pass_through_->finish(piece_);
  return passed(before);
}

transform::Status ObjectReader::take(transform::Result<std::vector<transform::Record>> records) {
  if (!records) return records.error();
  auto& processor = *runner_.processor_;
  for (auto& record : *records) {
    ++object_.records;
    runner_.records_.fetch_add(1, std::memory_order_relaxed);
    if (processor.filters_input()) {
      auto filtered = processor.filter_input(std::move(record));
      if (!filtered) return filtered.error();
      record = std::move(*filtered);
    }
    if (runner_.reading_.stream_object) {
      if (!stream_record(record)) return abandon();
      continue;
    }
    auto batch = batcher_.add(record);
    if (!batch) return batch.error();
    if (*batch && !runner_.submit(index_, std::move(**batch))) return abandon();
  }
  return {};
}

// After the pass-through splitter appended to `piece_` (bytes only once a record has begun).
transform::Status ObjectReader::passed(std::uint64_t records_before) {
  const std::uint64_t begun = pass_through_->records() - records_before;
  object_.records += begun;
  counts_.record_count += begun;
  runner_.records_.fetch_add(begun, std::memory_order_relaxed);
  if (piece_.empty()) return {};
  if (!streamed_ && !start_stream(0, pass_through_->first_offset())) return abandon();
  return send_piece() ? transform::Status() : abandon();
}

bool ObjectReader::stream_record(const transform::Record& record) {
  if (!streamed_ && !start_stream(record.index, record.offset)) return false;
  ++counts_.record_count;
  if (runner_.processor_->joins()) {
    counts_.join_inputs.push_back(
        record.unfiltered_content.value_or(std::string(record.content())));
  }
  piece_.append(record.bytes_to_send(runner_.parameters_.batch_strategy));
  return send_piece();
}

// Starts the streamed request at its first record.
bool ObjectReader::start_stream(std::uint64_t first_index, std::uint64_t first_offset) {
  streamed_ = std::make_shared<Pending>();
  streamed_->object = index_;
  streamed_->batch.first_record_index = first_index;
  streamed_->batch.first_offset = first_offset;
  streamed_->stream = std::make_shared<ChunkStream>(runner_.io_.get_executor());
  streamed_->input_complete = false;
  counts_.first_record_index = first_index;
  counts_.first_offset = first_offset;
  return runner_.enqueue(streamed_);
}

bool ObjectReader::send_piece() {
  if (piece_.size() < kReadChunkBytes) return true;
  return streamed_->stream->push(std::exchange(piece_, std::string()), runner_.stopping_);
}

// Ends the streamed request, if one was started: complete, cut short by an input error
// (`failure`), or cut short because the request is over or the job stopping.
void ObjectReader::end_stream(bool complete, std::optional<std::string> failure) {
  if (!streamed_ || stream_ended_) return;
  stream_ended_ = true;
  if (complete && !piece_.empty()) streamed_->stream->push(std::move(piece_), runner_.stopping_);
  {
    std::lock_guard lock(runner_.mutex_);
    streamed_->batch.record_count = counts_.record_count;
    streamed_->batch.join_inputs = std::move(counts_.join_inputs);
    streamed_->input_complete = true;
    streamed_->stream_cut = !complete;
  }
  streamed_->stream->close(std::move(failure));
  runner_.changed_.notify_all();
}

std::optional<ObjectFailure> ObjectReader::input_failure(const transform::Error& error) {
  end_stream(false, abandoned_ ? std::nullopt : std::optional<std::string>(error.message));
  if (abandoned_) return std::nullopt;
  ObjectFailure failure;
  failure.error = "InputError";
  failure.message = error.message;
  return failure;
}

bool Runner::submit(std::size_t index, transform::Batch batch) {
  auto pending = std::make_shared<Pending>();
  pending->object = index;
  pending->batch = std::move(batch);
  return enqueue(pending);
}

// Waits for a free slot, queues the request for the writer and starts it on the event loop.
bool Runner::enqueue(const std::shared_ptr<Pending>& pending) {
  auto& object = *objects_[pending->object];
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return in_flight_ < max_in_flight_ || stopping_ || object.failed; });
    if (stopping_ || object.failed) return false;
    ++in_flight_;
    queue_.push_back(pending);
  }
  ++object.requests;
  calls_running_.fetch_add(1);
  asio::co_spawn(io_, call(pending), [this, pending](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        pending->result.error = proto::Error::internal(ex.what());
      }
    }
    if (pending->stream) pending->stream->finished();
    {
      std::lock_guard lock(mutex_);
      pending->done = true;
    }
    calls_running_.fetch_sub(1);
    changed_.notify_all();
  });
  return true;
}

void Runner::push_end(std::size_t index, std::optional<ObjectFailure> failure) {
  auto pending = std::make_shared<Pending>();
  pending->object = index;
  pending->end = true;
  pending->read_failure = std::move(failure);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(pending));
  }
  changed_.notify_all();
}

// ---- the writer thread ----------------------------------------------------------------------

void Runner::write_all() {
  std::size_t ended = 0;
  while (ended < objects_.size()) {
    std::shared_ptr<Pending> pending;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] {
        if (stopping_ || queue_.empty()) return stopping_.load();
        const auto& front = *queue_.front();
        return front.end || (front.done && front.input_complete);
      });
      if (stopping_) break;
      pending = std::move(queue_.front());
      queue_.pop_front();
    }
    auto& object = *objects_[pending->object];
    if (pending->end) {
      finish(object, pending->read_failure);
      ++ended;
      continue;
    }
    consume(object, *pending);
    pending.reset();  // the batch and its response are freed before the slot is
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
    }
    changed_.notify_all();
  }
  // Stopped: nothing half-written may stay.
  for (auto& object : objects_) {
    if (object->output) {
      object->output->abort();
      object->output.reset();
    }
  }
}

void Runner::consume(ObjectRun& object, Pending& pending) {
  if (object.failed) return;  // in flight when an earlier batch failed: its output is moot
  // A streamed request cut short by an input error: the object's end carries the reason.
  if (pending.stream && pending.stream->failure()) return;
  const auto& batch = pending.batch;
  const auto& result = pending.result;
  if (result.error) {
    const auto& error = *result.error;
    ObjectFailure failure;
    failure.first_record = batch.first_record_index;
    failure.record_count = batch.record_count;
    failure.byte_offset = batch.first_offset;
    failure.error = std::string(proto::error_type_name(error.type));
    failure.message = error.message;
    failure.attempts = pending.attempts;
    if (error.stage) {
      failure.stage = error.stage->stage;
      failure.container = error.stage->container;
      failure.status = error.stage->original_status;
    }
    fail(object, std::move(failure),
         pending.stream ? std::nullopt : std::optional<std::string_view>(batch.bytes));
    return;
  }
  if (pending.stream_cut) {
    ObjectFailure failure;
    failure.first_record = batch.first_record_index;
    failure.record_count = batch.record_count;
    failure.byte_offset = batch.first_offset;
    failure.error = "ModelError";
    failure.message = "the first stage answered before the whole object was sent to it";
    fail(object, std::move(failure), std::nullopt);
    return;
  }
  std::string_view content_type = result.content_type;
  if ((content_type.empty() || content_type == "application/octet-stream") && job_.output.accept)
    content_type = *job_.output.accept;
  auto out = processor_->process_response(
      batch, result.body, transform::data_format_of(content_type), job_.output.assemble_with);
  if (!out) {
    ObjectFailure failure;
    failure.first_record = batch.first_record_index;
    failure.record_count = batch.record_count;
    failure.byte_offset = batch.first_offset;
    failure.error = "DataProcessingError";
    failure.message = out.error().message;
    fail(object, std::move(failure), batch.bytes);
    return;
  }
  try {
    if (!object.output) object.output = plan_.output_store->create(object.input->output_key);
    object.output->write(*out);
    object.report.bytes_written += out->size();
  } catch (const std::exception& e) {
    ObjectFailure failure;
    failure.error = "StorageError";
    failure.message = e.what();
    fail(object, std::move(failure), std::nullopt);
  }
}

void Runner::fail(ObjectRun& object, ObjectFailure failure, std::optional<std::string_view> data) {
  {
    std::lock_guard lock(mutex_);
    object.failed = true;
  }
  changed_.notify_all();  // the reader stops reading this object
  if (object.output) {
    object.output->abort();
    object.output.reset();
  }
  object.error_lines += error_line(object.input->uri, failure, data);
  if (!object.report.failure) object.report.failure = std::move(failure);
}

void Runner::finish(ObjectRun& object, const std::optional<ObjectFailure>& read_failure) {
  if (read_failure && !object.failed) fail(object, *read_failure, std::nullopt);
  auto& report = object.report;
  report.records = object.records;
  report.requests = object.requests;
  report.bytes_read = object.bytes_read;
  const auto& input = *object.input;
  auto& store = *plan_.output_store;
  if (!object.failed) {
    try {
      if (!object.output) object.output = store.create(input.output_key);
      object.output->commit();
      object.output.reset();
      store.remove(input.errors_key);  // from an earlier run that failed
      report.status = ObjectStatus::completed;
    } catch (const std::exception& e) {
      object.output.reset();
      ObjectFailure failure;
      failure.error = "StorageError";
      failure.message = e.what();
      fail(object, std::move(failure), std::nullopt);
    }
  }
  if (object.failed) {
    report.status = ObjectStatus::failed;
    objects_failed_.fetch_add(1);
    try {
      auto errors = store.create(input.errors_key);
      errors->write(object.error_lines);
      errors->commit();
    } catch (const std::exception& e) {
      log::error("{}: could not write {}.errors: {}", input.uri, input.output_uri, e.what());
    }
    log::error("{}: FAILED, no .out written: {} (details in {}.errors)", input.uri,
               describe(*report.failure), input.output_uri);
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - object.started).count();
  objects_done_.fetch_add(1);
}

// ---- progress and the report ----------------------------------------------------------------

Progress Runner::progress() const {
  Progress p;
  p.objects_done = objects_done_;
  p.objects_total = objects_.size();
  p.objects_failed = objects_failed_;
  p.records = records_;
  p.bytes_read = bytes_read_;
  for (const auto& input : plan_.objects) p.bytes_total += input.size;
  p.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  return p;
}

void Runner::show_progress(bool final) {
  if (options_.quiet) return;
  if (tty_) {
    winsize ws{};
    const std::size_t width =
        ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 100;
    std::fprintf(stderr, "\r\033[K%s%s", progress_bar(progress(), width - 1).c_str(),
                 final ? "\n" : "");
    progress_shown_ = !final;
  } else {
    std::fprintf(stderr, "%s\n", progress_line(progress()).c_str());
  }
  std::fflush(stderr);
}

void Runner::write_metrics(bool running, std::optional<bool> succeeded) {
  if (!options_.metrics_path) return;
  const std::string& path = *options_.metrics_path;
  const std::string temporary = path + ".tmp";
  const double started = std::chrono::duration<double>(started_wall_.time_since_epoch()).count();
  const auto written = common::write_private_file(
      temporary, progress_metrics(progress(), job_name_, running, succeeded, started));
  if (!written) {
    log::warn("could not write the metrics file {}: {}", temporary, written.error());
    return;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    log::warn("could not rename {} to {}: {}", temporary, path, std::strerror(errno));
}

asio::awaitable<void> Runner::progress_loop() {
  asio::steady_timer timer(io_);
  const auto period = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000);
  constexpr auto kMetricsPeriod = std::chrono::seconds(5);
  auto metrics_written = Clock::now();
  write_metrics(true, std::nullopt);
  while (workers_running_ > 0) {
    timer.expires_after(period);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (workers_running_ == 0) break;
    show_progress(false);
    if (Clock::now() - metrics_written >= kMetricsPeriod) {
      write_metrics(true, std::nullopt);
      metrics_written = Clock::now();
    }
  }
}

void Runner::finish_report() {
  report_.ended = std::chrono::system_clock::now();
  report_.started = started_wall_;
  for (const auto& object : objects_) report_.objects.push_back(object->report);
  if (stop_signal_ != 0) {
    report_.status = JobStatus::stopped;
    report_.failure_reason =
        fmt::format("stopped by {}", stop_signal_ == SIGTERM ? "SIGTERM" : "SIGINT");
    exit_code_ = 128 + stop_signal_;
  } else if (report_.status == JobStatus::failed) {
    exit_code_ = kExitFailed;
  } else if (objects_failed_ > 0) {
    report_.status = JobStatus::failed;
    report_.failure_reason = fmt::format("{} of {} object(s) failed; see each one's .out.errors",
                                         objects_failed_.load(), objects_.size());
    exit_code_ = kExitFailed;
  }
  if (progress_shown_) std::fputs("\n", stderr);
  write_metrics(false, report_.status == JobStatus::completed);
  std::fprintf(stderr, "%s\n", summary(report_).c_str());
  if (options_.report_path) {
    // Messages quote input bytes and keys name objects: either may be invalid UTF-8.
    const auto written = common::write_private_file(
        *options_.report_path,
        to_json(report_).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!written) {
      log::error("could not write the report to {}: {}", *options_.report_path, written.error());
      if (exit_code_ == 0) exit_code_ = kExitFailed;
    }
  }
}

// ---- the job --------------------------------------------------------------------------------

asio::awaitable<void> Runner::run() {
  const bool ready = co_await prepare();
  if (ready && !objects_.empty() && !stopping_) {
    workers_done_ =
        std::make_unique<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
    workers_running_ = 2;
    auto done = [this] {
      asio::post(io_, [this] {
        if (--workers_running_ == 0) workers_done_->cancel();
      });
    };
    reader_ = std::thread([this, done] {
      read_all();
      done();
    });
    writer_ = std::thread([this, done] {
      write_all();
      done();
    });
    asio::co_spawn(io_, progress_loop(), asio::detached);
    boost::system::error_code ec;
    while (workers_running_ > 0) {
      co_await workers_done_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    reader_.join();
    writer_.join();
    show_progress(true);
  }
  if (stages_) co_await stages_->stop();
  // Calls still running (a stopped job) end once their stages are gone.
  asio::steady_timer timer(io_);
  while (calls_running_ > 0) {
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::use_awaitable);
  }
  finish_report();
}

void Runner::stop(int signal_number) {
  if (stopping_) return;
  log::info("received {}; stopping the job: unfinished outputs are discarded",
            signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  stop_signal_ = signal_number;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (stages_ && !workers_done_) {
    // Still starting the stages: interrupt that.
    asio::co_spawn(io_, stages_->stop(), asio::detached);
  }
}

}  // namespace

int run_transform(const spec::PipelineSpec& spec, const transform::TransformJob& job,
                  const RunOptions& options) {
  asio::io_context io(1);
  Runner runner(io, spec, job, options);
  return runtime::run_until_done(
      io, runner.run(), [&](int signal_number) { runner.stop(signal_number); },
      [&] { return runner.exit_code(); });
}

}  // namespace tandem::batch
