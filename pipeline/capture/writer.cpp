#include "pipeline/capture/writer.h"

#include "pipeline/capture/layout.h"
#include "pipeline/common/log.h"

namespace tandem::capture {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kEventOverheadBytes = 256;
constexpr auto kDropReportInterval = std::chrono::seconds(10);
constexpr auto kErrorReportInterval = std::chrono::seconds(10);

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
  bool was_empty = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_ || queue_.size() >= options_.queue_records ||
        queued_bytes_ + bytes > options_.queue_bytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    was_empty = queue_.empty();
    queued_bytes_ += bytes;
    queue_.push_back({std::move(event), bytes});
  }
  // The writer waits only on an empty queue; otherwise it will find this event anyway.
  if (was_empty) wake_.notify_one();
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
    std::optional<Queued> next;
    bool closing = false;
    {
      std::unique_lock lock(mutex_);
      auto ready = [&] { return closing_ || !queue_.empty(); };
      if (file_) {
        wake_.wait_until(lock, file_->opened + options_.rotate_interval, ready);
      } else {
        wake_.wait(lock, ready);
      }
      if (!queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      closing = closing_ && queue_.empty() && !next;
    }
    if (next) {
      write(next->event);
      std::lock_guard lock(mutex_);
      queued_bytes_ -= next->bytes;
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
  try {
    if (!file_) {
      OpenFile file;
      file.key = capture_file_key(destination_.prefix, options_.endpoint, event.inference_time,
                                  random_uuid());
      file.hour = hour;
      file.opened = Clock::now();
      file.output = destination_.store->create(file.key);
      file_ = std::move(file);
    }
    file_->output->write(line);
    file_->bytes += line.size();
    ++file_->records;
  } catch (const std::exception& e) {
    const std::uint64_t lost = (file_ ? file_->records : 0) + 1;
    failed_ += lost;
    // A destination that is down fails every record: say so at most every 10 seconds.
    const auto now = Clock::now();
    if (errors_reported_at_ == Clock::time_point{} ||
        now - errors_reported_at_ >= kErrorReportInterval) {
      log::error("capture: cannot write to {}: {}; {} record(s) lost so far", destination_.uri,
                 e.what(), failed_.load());
      errors_reported_at_ = now;
    }
    if (file_) file_->output->abort();
    file_.reset();
  }
}

void CaptureWriter::commit() {
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
