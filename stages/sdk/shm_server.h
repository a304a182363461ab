// The stage's end of a shared-memory channel (docs/shm.md): maps the segment tandem handed
// over, and serves the requests tandem puts in its slots with the same handler as HTTP.
// One dispatcher thread waits on the submit eventfd and claims submitted slots; handlers run
// on the server's threads (the `run_handler` callback posts them there); each answer is
// written into its slot and announced on the completion pipe.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "stages/sdk/stage.h"
#include "tandem/proto/shm_segment.h"

namespace tandem::stage {

class ShmServer {
 public:
  // Takes over the three inherited descriptors; throws std::runtime_error saying what is
  // wrong with them (not a segment, another layout version).
  ShmServer(const ShmChannel& channel, const Handler& handler);
  ~ShmServer();  // stops and joins the dispatcher
  ShmServer(const ShmServer&) = delete;
  ShmServer& operator=(const ShmServer&) = delete;

  // Starts claiming requests; each runs through `run` (which must call the function it is
  // given, on whichever thread suits). Marks the segment as served, which tandem checks.
  void start(std::function<void(std::function<void()>)> run);
  // Stops claiming new requests and returns once the dispatcher has ended, so every slot it
  // claimed has been handed to `run`. Thread-safe; not to be called from `run`'s callback.
  void stop();
  std::uint32_t slot_count() { return segment_.ring().slot_count(); }

 private:
  void dispatch();
  void serve_slot(std::uint32_t slot);
  void wake_self();

  proto::shm::Segment segment_;
  proto::shm::UniqueFd submit_;
  proto::shm::UniqueFd complete_;
  const Handler& handler_;
  std::function<void(std::function<void()>)> run_;
  std::atomic<bool> stopping_{false};
  std::mutex join_mutex_;
  std::thread dispatcher_;
};

}  // namespace tandem::stage
