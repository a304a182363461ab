#include "pipeline/capture/writer.h"

#include <fmt/format.h>

#include <algorithm>

#include "pipeline/capture/layout.h"
#include "pipeline/common/log.h"

namespace tandem::capture {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kEventOverheadBytes = 256;
constexpr auto kDropReportInterval = std::chrono::seconds(10);
constexpr auto kErrorReportInterval = std::chrono::seconds(10);
constexpr std::size_t kWriteChunkBytes = 256 * 1024;
// A salvage writes in pieces of whole lines at least this large, to learn how far a failing
// store got (a local output passes pieces this large straight to write(2)).
constexpr std::size_t kSalvagePieceBytes = 64 * 1024;
// What an open file reserves for its lines at most (max_file_mb may be up to 1 GiB).
constexpr std::uint64_t kMaxReservedBytes = 64ull * 1024 * 1024;
// Attempts at committing what fits of a file after a failure (each writes it again).
constexpr int kSalvageAttempts = 8;

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

// The length of the whole lines within the first `limit` bytes of `lines`.
std::size_t whole_lines(std::string_view lines, std::size_t limit) {
  if (limit >= lines.size()) return lines.size();
  if (limit == 0) return 0;
  const std::size_t last_break = lines.rfind('\n', limit - 1);
  return last_break == std::string_view::npos ? 0 : last_break + 1;
}

// Where a piece of whole lines starting at `from` ends: at the first line end at least
// kSalvagePieceBytes on, or at `end` (itself the end of a line) when less than two pieces are
// left, so that the last piece is not a small one either.
std::size_t piece_end(std::string_view lines, std::size_t from, std::size_t end) {
  if (end - from < 2 * kSalvagePieceBytes) return end;
  return std::min(end, lines.find('\n', from + kSalvagePieceBytes - 1) + 1);
}

struct Attempt {
  bool created = false;
  bool committed = false;
  std::size_t took = 0;         // bytes the output's writes took
  std::size_t failing_end = 0;  // where the write (or the commit) that failed would have ended
};

// The first `keep` bytes of `lines` (whole lines) as a new object `key`, committed.
Attempt write_prefix(storage::ObjectStore& store, const std::string& key, std::string_view lines,
                     std::size_t keep) {
  Attempt attempt;
  std::unique_ptr<storage::OutputObject> output;
  try {
    output = store.create(key);
    attempt.created = true;
    while (attempt.took < keep) {
      attempt.failing_end = piece_end(lines, attempt.took, keep);
      output->write(lines.substr(attempt.took, attempt.failing_end - attempt.took));
      attempt.took = attempt.failing_end;
    }
    attempt.failing_end = keep;
    output->commit();
    attempt.committed = true;
  } catch (const std::exception&) {
    if (output) output->abort();
  }
  return attempt;
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
  if (!event.inference_time) event.inference_time = std::chrono::system_clock::now();
  std::string line = to_json_line(event, options_.rules);
  line.push_back('\n');
  const std::string hour = hour_folder(*event.inference_time);
  if (file_ && (file_->hour != hour || (file_->records > 0 && file_->lines.size() + line.size() >
                                                                  options_.max_file_bytes))) {
    commit();
  }
  if (!file_) {
    try {
      OpenFile file;
      file.key = capture_file_key(destination_.prefix, options_.endpoint, *event.inference_time,
                                  random_uuid());
      file.hour = hour;
      file.opened = Clock::now();
      // Address space, not memory: only the pages the lines fill are touched, and the lines
      // are not copied each time the string grows.
      file.lines.reserve(std::min(options_.max_file_bytes, kMaxReservedBytes));
      file.output = destination_.store->create(file.key);
      file_ = std::move(file);
    } catch (const std::exception& e) {
      ++failed_;
      report_error(fmt::format("cannot write to {}: {}", destination_.uri, e.what()));
      return;
    }
  }
  file_->lines += line;
  ++file_->records;
  if (file_->lines.size() - file_->handed >= kWriteChunkBytes) flush();
}

void CaptureWriter::flush() {
  if (file_->handed == file_->lines.size()) return;
  try {
    file_->output->write(std::string_view(file_->lines).substr(file_->handed));
    file_->handed = file_->lines.size();
  } catch (const std::exception& e) {
    salvage(e);
  }
}

void CaptureWriter::commit() {
  flush();
  if (!file_) return;
  try {
    file_->output->commit();
    written_ += file_->records;
    ++files_;
    file_.reset();
  } catch (const std::exception& e) {
    salvage(e);
  }
}

// What a failed output holds is unknown (a write cut short by a full disk ends mid-record), so
// it is aborted and the file written again under its key, whole lines only: what is committed
// is a capture file that SageMaker's readers and replay read as any other. First all of it (the
// failure may have passed); then from where that attempt's failing write would have ended (that
// did not fit) down to what its writes took (on a disk, that is there), a seventh of the gap
// at a time; the last attempt keeps what the writes took.
void CaptureWriter::salvage(const std::exception& error) {
  OpenFile file = std::move(*file_);
  file_.reset();
  file.output->abort();
  file.output.reset();
  const std::string_view lines = file.lines;
  std::size_t keep = lines.size();
  std::size_t fitted = 0;
  std::size_t failed_at = keep;
  for (int attempt = 0; attempt < kSalvageAttempts && keep > 0; ++attempt) {
    const Attempt result = write_prefix(*destination_.store, file.key, lines, keep);
    if (result.committed) break;
    if (!result.created) {  // the destination refuses new objects: smaller ones will not do
      keep = 0;
      break;
    }
    if (attempt == 0) {
      fitted = result.took < keep ? result.took : 0;  // after a failed commit, nothing is known
      failed_at = result.failing_end;
    } else {
      // Less than `keep` fits; less than what fitted before when the room shrank.
      fitted = std::min(fitted, result.took < keep ? result.took : whole_lines(lines, keep - 1));
    }
    if (attempt + 1 == kSalvageAttempts) {
      keep = 0;
      break;
    }
    // Attempts left after the next one: that many sevenths of the gap above what fitted.
    const auto above = static_cast<std::size_t>(kSalvageAttempts - 2 - attempt);
    const std::size_t next =
        whole_lines(lines, fitted + (failed_at - fitted) * above / (kSalvageAttempts - 1));
    keep = std::max(fitted, std::min(next, whole_lines(lines, keep - 1)));
  }
  const auto kept = static_cast<std::uint64_t>(
      std::count(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(keep), '\n'));
  written_ += kept;
  failed_ += file.records - kept;
  if (kept > 0) ++files_;
  if (kept == file.records) {
    log::warn("capture: {}: {}; written again, whole", file.key, error.what());
  } else if (kept > 0) {
    log::error("capture: {}: {}; committed with its first {} of {} record(s); {} lost", file.key,
               error.what(), kept, file.records, file.records - kept);
  } else {
    report_error(fmt::format("cannot write {}: {}; its {} record(s) lost", file.key, error.what(),
                             file.records));
  }
}

// A destination that is down fails every file: say so at most every 10 seconds.
void CaptureWriter::report_error(const std::string& message) {
  const auto now = Clock::now();
  if (errors_reported_at_ != Clock::time_point{} &&
      now - errors_reported_at_ < kErrorReportInterval)
    return;
  log::error("capture: {}; {} record(s) lost so far", message, failed_.load());
  errors_reported_at_ = now;
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
