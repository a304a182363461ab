// The seam between the supervisor and time: what time it is, sleeping (backoff, the interval
// between pings), and waiting for a gate to empty with a deadline (stopping the stages,
// their last output lines). SteadyTime is the real one (std::chrono::steady_clock, Asio
// timers); the supervisor's unit tests run on simulated time, where a sleep ends as soon as
// nothing else can run, so a 30 s stop timeout takes no time at all.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

#include "pipeline/common/gate.h"

namespace tandem::supervisor {

class TimeSource {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~TimeSource() = default;

  virtual Clock::time_point now() const = 0;
  virtual boost::asio::awaitable<void> sleep(Clock::duration duration) = 0;
  // Until `gate`'s count is zero or `timeout` has passed; returns the count left (0: empty).
  virtual boost::asio::awaitable<std::size_t> wait(common::Gate& gate, Clock::duration timeout) = 0;
};

// std::chrono::steady_clock, with Asio timers on `executor`.
std::unique_ptr<TimeSource> make_steady_time(boost::asio::any_io_executor executor);

}  // namespace tandem::supervisor
