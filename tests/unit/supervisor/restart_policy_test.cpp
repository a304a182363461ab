// Restart backoff, driven by explicit time points (no real clock).
#include "pipeline/supervisor/restart_policy.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <vector>

namespace tandem::supervisor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = RestartPolicy::Clock::time_point;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

// Starts the stage at `t`, lets it run `run`, and returns the delay the policy asks for.
milliseconds crash_after(RestartPolicy& policy, TimePoint& t, milliseconds run) {
  policy.on_started(t);
  t += run;
  const auto delay = policy.on_exited(t);
  t += delay;
  return delay;
}

TEST_CASE("the delay doubles from 100 ms and stops at 30 s", "[restart]") {
  RestartPolicy policy;
  TimePoint t = t0;
  std::vector<long> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(crash_after(policy, t, milliseconds(500)).count());
  CHECK(delays ==
        std::vector<long>{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000});
  CHECK(policy.consecutive_failures() == 12);
}

TEST_CASE("a run of stable_after resets the backoff", "[restart]") {
  RestartPolicy policy;
  TimePoint t = t0;
  CHECK(crash_after(policy, t, seconds(1)).count() == 100);
  CHECK(crash_after(policy, t, seconds(1)).count() == 200);
  CHECK(crash_after(policy, t, seconds(1)).count() == 400);
  CHECK(policy.consecutive_failures() == 3);

  SECTION("exactly 60 s counts as stable") {
    CHECK(crash_after(policy, t, seconds(60)).count() == 100);
    CHECK(policy.consecutive_failures() == 1);
    CHECK(crash_after(policy, t, seconds(1)).count() == 200);
    CHECK(policy.consecutive_failures() == 2);
  }
  SECTION("1 ms short of 60 s does not") {
    CHECK(crash_after(policy, t, milliseconds(59'999)).count() == 800);
    CHECK(policy.consecutive_failures() == 4);
  }
}

TEST_CASE("the time spent waiting to restart does not count as running", "[restart]") {
  RestartPolicy::Options options;
  options.stable_after = seconds(10);
  RestartPolicy policy(options);
  TimePoint t = t0;
  for (int i = 0; i < 8; ++i) crash_after(policy, t, milliseconds(10));
  // The last wait was 12.8 s, longer than stable_after, but the stage ran only 10 ms.
  CHECK(crash_after(policy, t, milliseconds(10)).count() == 25'600);
  CHECK(policy.consecutive_failures() == 9);
}

TEST_CASE("custom options: initial delay, multiplier, cap and stable time", "[restart]") {
  RestartPolicy::Options options;
  options.initial_delay = milliseconds(1000);
  options.max_delay = milliseconds(5000);
  options.multiplier = 3.0;
  options.stable_after = seconds(10);
  RestartPolicy policy(options);
  TimePoint t = t0;
  CHECK(crash_after(policy, t, seconds(1)).count() == 1000);
  CHECK(crash_after(policy, t, seconds(1)).count() == 3000);
  CHECK(crash_after(policy, t, seconds(1)).count() == 5000);
  CHECK(crash_after(policy, t, seconds(1)).count() == 5000);
  CHECK(crash_after(policy, t, seconds(10)).count() == 1000);
}

TEST_CASE("a multiplier below 1 never shrinks the delay under initial_delay", "[restart]") {
  RestartPolicy::Options options;
  options.multiplier = 0.5;
  RestartPolicy policy(options);
  TimePoint t = t0;
  CHECK(crash_after(policy, t, seconds(1)).count() == 100);
  CHECK(crash_after(policy, t, seconds(1)).count() == 100);
  CHECK(policy.consecutive_failures() == 2);
}

TEST_CASE("a fresh policy has no failures", "[restart]") {
  CHECK(RestartPolicy().consecutive_failures() == 0);
}

}  // namespace
}  // namespace tandem::supervisor
