#include "pipeline/capture/writer.h"

#include "pipeline/capture/layout.h"
#include "pipeline/common/log.h"

namespace tandem::capture {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kEventOverheadBytes = 256;
constexpr auto kDropReportInterval = std::chrono::seconds(10);
constexpr auto kErrorReportInterval = std::chrono::seconds(10);
constexpr std::size_t kWriteChunkBytes = 256 * 1024;

std::size_t payload_bytes(const std::optional<Payload>& payload) {
  return payload ? payload->data.size() + payload->content_type.size() : 0;
}

// What the event holds in memory, roughly: what the queue's byte bound counts.
std::size_t event_bytes(const Event& event) {
  std::size_t bytes =
      kEventOverheadBytes + payload_bytes(event.input) + payload_bytes(event.output);
  for (const auto& stage : event.stages)
    bytes += kEventOverheadBytes + payload_bytes(stage.input) + payload_bytes(stage.output);
  return bytes;
}

}  // namespace

CaptureWriter::CaptureWriter(storage::Location destination, WriterOptions options)
    : destination_(std::move(destination)), options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

CaptureWriter::~CaptureWriter() {
  close();
}

bool CaptureWriter::submit(Event event) {
  const std::size_t bytes = event_bytes(event);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_ || queued_records_ >= options_.queue_records ||
        queued_bytes_ + bytes > options_.queue_bytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    // Wake the writer once, when the queue passes half of either bound.
    const std::size_t half_records = options_.queue_records / 2;
    const std::uint64_t half_bytes = options_.queue_bytes / 2;
    const bool records_cross =
        queued_records_ < half_records && queued_records_ + 1 >= half_records;
    const bool bytes_cross = queued_bytes_ < half_bytes && queued_bytes_ + bytes >= half_bytes;
    wake = records_cross || bytes_cross;
    ++queued_records_;
    queued_bytes_ += bytes;
    queue_.push_back({std::move(event), bytes});
  }
  if (wake) wake_.notify_one();
  return true;
}

void CaptureWriter::close() {
  {
    std::lock_guard lock(mutex_);
    if (closing_ && !thread_.joinable()) return;
    closing_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

WriterCounts CaptureWriter::counts() const {
  return {written_.load(), dropped_.load(), failed_.load(), files_.load()};
}

void CaptureWriter::run() {
  for (;;) {
    std::deque<Queued> batch;
    bool closing = false;
    {
      std::unique_lock lock(mutex_);
      auto deadline = Clock::now() + kWakeInterval;
      if (file_) deadline = std::min(deadline, file_->opened + options_.rotate_interval);
      wake_.wait_until(lock, deadline, [&] {
        return closing_ ||
               queued_records_ >= std::max<std::size_t>(1, options_.queue_records / 2) ||
               queued_bytes_ >= options_.queue_bytes / 2;
      });
      batch.swap(queue_);
      closing = closing_ && batch.empty();
    }
    std::size_t bytes = 0;
    for (auto& queued : batch) {
      write(queued.event);
      bytes += queued.bytes;
    }
    if (file_) flush();
    if (!batch.empty()) {
      std::lock_guard lock(mutex_);
      queued_records_ -= batch.size();
      queued_bytes_ -= bytes;
    }
    if (file_ && (closing || Clock::now() - file_->opened >= options_.rotate_interval)) commit();
    report_drops(closing);
    if (closing) return;
  }
}

void CaptureWriter::write(Event& event) {
  if (event.event_id.empty()) event.event_id = random_uuid();
  std::string line = to_json_line(event, options_.rules);
  line.push_back('\n');
  const std::string hour = hour_folder(event.inference_time);
  if (file_ && (file_->hour != hour ||
                (file_->records > 0 && file_->bytes + line.size() > options_.max_file_bytes))) {
    commit();
  }
  if (!file_) {
    try {
      OpenFile file;
      file.key = capture_file_key(destination_.prefix, options_.endpoint, event.inference_time,
                                  random_uuid());
      file.hour = hour;
      file.opened = Clock::now();
      file.output = destination_.store->create(file.key);
      file_ = std::move(file);
    } catch (const std::exception& e) {
      ++failed_;
      lose_file(e);
      return;
    }
  }
  file_->unwritten += line;
  file_->bytes += line.size();
  ++file_->records;
  if (file_->unwritten.size() >= kWriteChunkBytes) flush();
}

void CaptureWriter::flush() {
  if (file_->unwritten.empty()) return;
  try {
    file_->output->write(file_->unwritten);
    file_->unwritten.clear();
  } catch (const std::exception& e) {
    lose_file(e);
  }
}

// The open file (if any) is abandoned: its records are lost.
void CaptureWriter::lose_file(const std::exception& e) {
  if (file_) {
    failed_ += file_->records;
    file_->output->abort();
    file_.reset();
  }
  // A destination that is down fails every record: say so at most every 10 seconds.
  const auto now = Clock::now();
  if (errors_reported_at_ == Clock::time_point{} ||
      now - errors_reported_at_ >= kErrorReportInterval) {
    log::error("capture: cannot write to {}: {}; {} record(s) lost so far", destination_.uri,
               e.what(), failed_.load());
    errors_reported_at_ = now;
  }
}

void CaptureWriter::commit() {
  flush();
  if (!file_) return;
  try {
    file_->output->commit();
    written_ += file_->records;
    ++files_;
  } catch (const std::exception& e) {
    log::error("capture: cannot commit {}: {}; {} record(s) lost", file_->key, e.what(),
               file_->records);
    failed_ += file_->records;
  }
  file_.reset();
}

void CaptureWriter::report_drops(bool final) {
  const std::uint64_t dropped = dropped_.load();
  if (dropped == drops_reported_) return;
  const auto now = Clock::now();
  if (!final && drops_reported_ != 0 && now - drops_reported_at_ < kDropReportInterval) return;
  log::warn(
      "capture: dropped {} record(s) ({} in all): the queue was full (queue_records {}, "
      "queue_mb {:g}); the destination is slower than the traffic",
      dropped - drops_reported_, dropped, options_.queue_records,
      static_cast<double>(options_.queue_bytes) / (1024.0 * 1024.0));
  drops_reported_ = dropped;
  drops_reported_at_ = now;
}

}  // namespace tandem::capture
