// When to restart a stage that died: exponential backoff that resets once a stage has run
// long enough to count as stable. A pure state machine driven by the caller's clock, so it
// is tested with plain time points.
#pragma once

#include <chrono>
#include <cstdint>

namespace tandem::supervisor {

class RestartPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds initial_delay{100};
    std::chrono::milliseconds max_delay{30'000};
    double multiplier = 2.0;
    std::chrono::milliseconds stable_after{60'000};  // a run this long resets the backoff
  };

  RestartPolicy() : RestartPolicy(Options{}) {}
  explicit RestartPolicy(Options options);

  // The stage was (re)started at `now`.
  void on_started(Clock::time_point now);
  // The stage exited at `now`; returns how long to wait before starting it again.
  std::chrono::milliseconds on_exited(Clock::time_point now);

  std::uint32_t consecutive_failures() const { return failures_; }

 private:
  Options options_;
  std::chrono::milliseconds next_delay_;
  std::uint32_t failures_ = 0;
  Clock::time_point started_{};
};

}  // namespace tandem::supervisor
