// StageTransport over shared memory (`transport: shm`; the ring is proto/shm_ring.h, the
// protocol docs/shm.md). Each launch of the stage gets a fresh channel: a memfd segment of
// max_inflight slots, an eventfd tandem writes to wake the stage, and a pipe the stage writes
// to wake tandem. The pipe also tells of the stage's death: when the stage is gone its end
// closes, and every request in flight on that channel fails at once.
//
// Nothing blocks the event loop: tandem writes the eventfd (which never blocks) and waits for
// the pipe with Asio like any socket. One coroutine per channel collects answers; each call
// waits on a timer set to its deadline, cancelled when its answer arrives.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "pipeline/chain/transport.h"
#include "tandem/proto/shm_ring.h"

namespace tandem::chain {

class ShmStageTransport : public StageTransport {
 public:
  struct Options {
    proto::shm::Geometry geometry;
  };
  ShmStageTransport(boost::asio::any_io_executor executor, Options options);
  ~ShmStageTransport() override;

  // Creates the channel for the next launch; calls go to it from now on, and calls still
  // waiting on the previous one fail. Throws std::runtime_error when the system refuses.
  StageChannel prepare_launch() override;
  boost::asio::awaitable<StageOutcome> call(StageRequest request) override;
  // The channel changes with each launch, not when the stage passes /ping: nothing to do.
  void reset(std::uint16_t) override {}

  class Channel;

 private:
  boost::asio::any_io_executor executor_;
  Options options_;
  std::shared_ptr<Channel> channel_;
};

}  // namespace tandem::chain
