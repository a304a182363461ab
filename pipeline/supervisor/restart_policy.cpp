#include "pipeline/supervisor/restart_policy.h"

#include <algorithm>

namespace tandem::supervisor {

RestartPolicy::RestartPolicy(Options options)
    : options_(options), next_delay_(options.initial_delay) {}

void RestartPolicy::on_started(Clock::time_point now) {
  started_ = now;
}

std::chrono::milliseconds RestartPolicy::on_exited(Clock::time_point now) {
  if (now - started_ >= options_.stable_after) {
    next_delay_ = options_.initial_delay;
    failures_ = 0;
  }
  const auto delay = next_delay_;
  ++failures_;
  const auto grown = std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(next_delay_.count()) * options_.multiplier));
  next_delay_ = std::min(std::max(grown, options_.initial_delay), options_.max_delay);
  return delay;
}

}  // namespace tandem::supervisor
