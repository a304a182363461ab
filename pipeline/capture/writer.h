// Writes capture records to a folder or an S3 prefix without ever making an invocation wait:
// submit() only moves the event into a bounded queue (records and bytes) and returns; when
// the queue is full the event is dropped and counted, and the writer thread logs the drops.
// submit() wakes the writer only when the queue is half full: otherwise the writer takes what
// has queued every kWakeInterval, so a request does not pay for a thread wake-up (on a busy
// machine that costs more than everything else capture does). The writer serialises records
// (record.h) and appends them to the current file of their hour, which it commits, making it
// visible whole, when the hour changes, when it reaches max_file_bytes, when it is
// rotate_interval old, and on close(). A record is never split across files or cut short: a
// committed file holds whole lines only.
//
// A write or commit that fails (a full disk, S3 refusing a part) leaves the object's bytes
// unknown, so the writer keeps the open file's lines in memory until it is committed (at most
// max_file_bytes) and, after a failure, commits again under the same key the longest run of
// whole records the store takes: only the records that did not fit are lost and counted.
//
// Ownership: the writer owns its store (from the destination Location), the queue and the
// thread; close() (or the destructor) writes what is queued and joins the thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pipeline/capture/record.h"
#include "pipeline/storage/object_store.h"

namespace tandem::capture {

// How long queued records wait for the writer at most (unless the queue is half full).
inline constexpr std::chrono::milliseconds kWakeInterval{100};

struct WriterOptions {
  std::string endpoint;  // the folder under the destination
  ContentTypeRules rules;
  std::uint64_t max_file_bytes = 64ull * 1024 * 1024;
  std::chrono::milliseconds rotate_interval{60'000};
  std::size_t queue_records = 1024;
  std::uint64_t queue_bytes = 64ull * 1024 * 1024;
};

struct WriterCounts {
  std::uint64_t written = 0;  // records in committed files
  std::uint64_t dropped = 0;  // refused because the queue was full (or the writer closed)
  std::uint64_t failed = 0;   // lost to a storage error
  std::uint64_t files = 0;    // committed
};

class CaptureWriter {
 public:
  // `destination.prefix` is where the endpoint's folder goes; it must be empty or end in '/'.
  CaptureWriter(storage::Location destination, WriterOptions options);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  // Never blocks on storage: queues the event, or drops it (false) when the queue is full.
  // An event without an id gets a random UUID.
  bool submit(Event event);
  // Writes every queued event, commits the open file and stops the thread. Idempotent.
  void close();
  WriterCounts counts() const;

 private:
  struct Queued {
    Event event;
    std::size_t bytes = 0;
  };
  struct OpenFile {
    std::unique_ptr<storage::OutputObject> output;
    std::string key;
    std::string hour;
    std::string lines;       // every whole line of the file, kept until it is committed
    std::size_t handed = 0;  // bytes of `lines` that `output` has taken
    std::uint64_t records = 0;
    std::chrono::steady_clock::time_point opened;
  };

  void run();
  void write(Event& event);
  void flush();  // the open file's lines not yet handed to its output
  void commit();
  // After `output` failed: commits what fits of the file again, counts the rest as lost.
  void salvage(const std::exception& error);
  void report_error(const std::string& message);
  void report_drops(bool final);

  storage::Location destination_;
  WriterOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  // Counted until written, so the records the writer has taken count against the bounds too.
  std::size_t queued_records_ = 0;
  std::uint64_t queued_bytes_ = 0;
  bool closing_ = false;

  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> files_{0};

  // The writer thread's.
  std::optional<OpenFile> file_;
  std::uint64_t drops_reported_ = 0;
  std::chrono::steady_clock::time_point drops_reported_at_{};
  std::chrono::steady_clock::time_point errors_reported_at_{};

  std::thread thread_;
};

}  // namespace tandem::capture
