// The stage's end of a shared-memory channel (docs/shm.md): maps the segment tandem handed
// over, and serves the requests tandem puts in its slots with the same handler as HTTP.
// A pool of threads claims submitted slots and runs the handler on the thread that claimed
// the slot (no hand-over to another thread on the way). Idle threads sleep in epoll on the
// submit pipe, registered exclusively so that one wake-up from tandem wakes one thread; a
// thread that claims a slot while more are waiting wakes a sleeping peer for them. Each
// answer is written into its slot, and announced on the completion pipe if tandem sleeps.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "stages/sdk/stage.h"
#include "tandem/proto/shm_segment.h"

namespace tandem::stage {

class ShmServer {
 public:
  // Takes over the three inherited descriptors; throws std::runtime_error saying what is
  // wrong with them (not a segment, another layout version).
  ShmServer(const ShmChannel& channel, const Handler& handler);
  ~ShmServer();  // stops and joins the threads
  ShmServer(const ShmServer&) = delete;
  ShmServer& operator=(const ShmServer&) = delete;

  // Starts `threads` threads claiming and serving requests. Marks the segment as served,
  // which tandem checks.
  void start(unsigned threads);
  // Stops claiming new requests and returns once every thread has ended, so every request
  // claimed has been answered. Thread-safe; not to be called from the handler.
  void stop();
  std::uint32_t slot_count() { return segment_.ring().slot_count(); }

 private:
  void serve();
  enum class Wake { woken, not_needed, failed };
  proto::shm::UniqueFd open_epoll() const;
  Wake sleep_until_woken(int epoll);
  bool drain_wake_ups();
  std::optional<std::uint32_t> claim_one();
  bool any_submitted();
  void serve_slot(std::uint32_t slot);
  void wake_self();

  proto::shm::Segment segment_;
  proto::shm::UniqueFd submit_;
  proto::shm::UniqueFd complete_;
  proto::shm::UniqueFd stop_;  // an eventfd that wakes every thread, once stopping
  proto::shm::UniqueFd kick_;  // an eventfd that wakes one sleeping thread
  const Handler& handler_;
  const std::uint32_t pid_;  // recorded in each slot this process takes
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint32_t> next_slot_{0};  // where threads start scanning
  std::mutex join_mutex_;
  std::vector<std::thread> threads_;
};

// In the parent of several worker processes that serve one inherited channel: completes
// every slot that exited worker `pid` had taken with `status` and the text/plain `message`,
// and wakes tandem. Maps the segment on a duplicate of `channel.segment` and leaves the
// inherited descriptors as they are (later workers inherit them too). Returns how many
// slots it completed; throws std::runtime_error if the channel cannot be mapped.
std::uint32_t fail_taken(const ShmChannel& channel, std::uint32_t pid, int status,
                         std::string_view message);

}  // namespace tandem::stage
