// The supervisor's state machine on fake processes, a scripted /ping and simulated time
// (simulated.h): start-up failures and their messages, liveness, restart backoff, stop's
// SIGTERM then SIGKILL. The integration tests (tests/integration/test_startup.py,
// test_restarts.py, test_shutdown.py) prove the same on real processes.
#include "pipeline/supervisor/supervisor.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/supervisor/simulated.h"

namespace tandem::supervisor {
namespace {

using namespace std::chrono_literals;
using simulated::FakeLauncher;
using simulated::FakeProber;
using simulated::FakeProcess;
using simulated::SimulatedTime;
using Clock = TimeSource::Clock;
using PingAnswer = Result<int, common::HttpGetError>;

const PingAnswer refused = common::HttpGetError{"connect: Connection refused"};

// One supervisor over fakes, with stages whose commands (and names) are `names`.
struct Harness {
  explicit Harness(const std::vector<std::string>& names, Supervisor::Options options = {}) {
    spec.name = "test";
    spec.server.stage_stop_timeout = 30s;
    for (std::size_t i = 0; i < names.size(); ++i) {
      spec::StageSpec stage;
      stage.name = names[i];
      stage.container = "container-" + std::to_string(i + 1);
      stage.command = {names[i]};
      stage.startup_timeout = 5s;
      spec.stages.push_back(stage);
    }
    auto fake_time = std::make_unique<SimulatedTime>(io.get_executor());
    auto fake_launcher = std::make_unique<FakeLauncher>(io.get_executor(), *fake_time);
    auto fake_prober = std::make_unique<FakeProber>();
    time = fake_time.get();
    launcher = fake_launcher.get();
    prober = fake_prober.get();
    supervisor = std::make_unique<Supervisor>(
        io.get_executor(), spec, options,
        Supervisor::Io{std::move(fake_launcher), std::move(fake_prober), std::move(fake_time)});
  }

  bool run_until(const std::function<bool()>& done) {
    return simulated::run_until(io, *time, done);
  }

  // Runs start() to its end; the StartupError's message, or nullopt when it succeeded.
  std::optional<std::string> start() {
    bool finished = false;
    std::optional<std::string> error;
    boost::asio::co_spawn(io, supervisor->start(), [&](std::exception_ptr e) {
      finished = true;
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const StartupError& startup) {
        error = startup.what();
      }
    });
    REQUIRE(run_until([&] { return finished; }));
    return error;
  }

  void stop() {
    bool finished = false;
    boost::asio::co_spawn(io, supervisor->stop(), [&](std::exception_ptr) { finished = true; });
    REQUIRE(run_until([&] { return finished; }));
  }

  // Runs `what` after `delay` of simulated time.
  void after(Clock::duration delay, std::function<void()> what) {
    boost::asio::co_spawn(io, call_after(*time, delay, std::move(what)), boost::asio::detached);
  }
  static boost::asio::awaitable<void> call_after(SimulatedTime& time, Clock::duration delay,
                                                 std::function<void()> what) {
    co_await time.sleep(delay);
    what();
  }

  StageState state(std::size_t i = 0) const { return supervisor->status().at(i).state; }

  boost::asio::io_context io;  // first: the fakes' timers and coroutines outlive the rest
  spec::PipelineSpec spec;
  SimulatedTime* time = nullptr;
  FakeLauncher* launcher = nullptr;
  FakeProber* prober = nullptr;
  std::unique_ptr<Supervisor> supervisor;
};

std::vector<int> signals_of(const FakeProcess& process) {
  std::vector<int> out;
  for (const auto& s : process.signals) out.push_back(s.sig);
  return out;
}

TEST_CASE("a stage that exits during start-up fails it with its last output lines") {
  Supervisor::Options options;
  options.tail_lines = 3;
  Harness h({"model"}, options);
  h.prober->answer = [](std::uint16_t) { return refused; };
  h.launcher->script = [&](FakeProcess& p) {
    h.after(300ms, [&p] {
      for (int i = 1; i <= 5; ++i) p.print("line " + std::to_string(i));
      p.print("carriage return\r");
      p.exit(3);
    });
  };
  const auto error = h.start();
  REQUIRE(error);
  CHECK(*error ==
        "stage 'model' (container-1) exited with status 3 during start-up; its last lines:\n"
        "    | line 4\n"
        "    | line 5\n"
        "    | carriage return");
  CHECK(h.state() == StageState::stopped);
  CHECK(h.time->elapsed() < 1s);
}

TEST_CASE("a start-up failure waits for the lines still in the stage's output") {
  Harness h({"model"});
  h.prober->answer = [](std::uint16_t) { return refused; };
  h.launcher->script = [&](FakeProcess& p) {
    p.keep_output_open = true;  // a process it started still holds the pipe a moment
    h.after(1s, [&p] { p.exit(1); });
    h.after(1s + 250ms, [&p] {
      p.print("Traceback: the model file is missing");
      p.close_output();
    });
  };
  const auto error = h.start();
  REQUIRE(error);
  CHECK(*error ==
        "stage 'model' (container-1) exited with status 1 during start-up; its last lines:\n"
        "    | Traceback: the model file is missing");
}

TEST_CASE("a start-up failure waits at most half a second for the stage's output to close") {
  Harness h({"model"});
  h.prober->answer = [](std::uint16_t) { return refused; };
  h.launcher->script = [&](FakeProcess& p) {
    p.keep_output_open = true;
    h.after(1s, [&p] {
      p.print("starting");
      p.exit(1);
    });
  };
  const auto error = h.start();
  REQUIRE(error);
  CHECK(*error ==
        "stage 'model' (container-1) exited with status 1 during start-up; its last lines:\n"
        "    | starting");
  // Seen at the first check after 1 s (every 100 ms), then 500 ms for the output.
  CHECK(h.time->elapsed() >= 1s + 500ms);
  CHECK(h.time->elapsed() <= 1s + 100ms + 500ms);
}

TEST_CASE("a stage that never answers /ping with 200 fails start-up at its startup_timeout") {
  Harness h({"featurize", "model"});
  h.prober->answer = [&](std::uint16_t port) -> PingAnswer {
    if (port == h.supervisor->port(1)) return 503;
    return 200;
  };
  const auto error = h.start();
  REQUIRE(error);
  CHECK(*error ==
        "stage 'model' (container-2) did not answer GET /ping with 200 within 5 s "
        "(startup_timeout_s; last attempt: GET /ping answered 503); it printed nothing");
  CHECK(h.time->elapsed() > 5s);
  CHECK(h.time->elapsed() <= 5s + 100ms);
  // Whatever start-up began, it stops.
  for (const auto& p : h.launcher->launched) CHECK(signals_of(*p) == std::vector<int>{SIGTERM});
  CHECK(h.state(0) == StageState::stopped);
  CHECK(h.state(1) == StageState::stopped);
}

TEST_CASE("a stage that cannot be launched fails start-up with the launcher's reason") {
  Harness h({"model"});
  h.launcher->refuse = "cannot execute 'model': No such file or directory";
  const auto error = h.start();
  REQUIRE(error);
  CHECK(*error == "stage 'model' (container-1): cannot execute 'model': No such file or directory");
}

TEST_CASE("a launch hook that throws fails start-up with its message") {
  Harness h({"model"});
  h.supervisor->on_launch([](std::size_t, LaunchSpec&) {
    throw std::runtime_error("cannot create the shared-memory channel: out of memory");
  });
  const auto error = h.start();
  REQUIRE(error);
  CHECK(*error ==
        "stage 'model' (container-1): cannot create the shared-memory channel: out of memory");
  CHECK(h.launcher->launched.empty());
}

TEST_CASE("three failed pings in a row mark a stage unhealthy, and a success resets the count") {
  Harness h({"model"});
  REQUIRE_FALSE(h.start());
  REQUIRE(h.state() == StageState::up);
  std::deque<PingAnswer> answers{
      503, refused, 200, 503, 503, common::HttpGetError{"connect: Too many open files", true},
      503, 200};
  h.prober->answer = [&](std::uint16_t) {
    if (answers.empty()) return PingAnswer(200);
    auto next = answers.front();
    answers.pop_front();
    return next;
  };
  const std::size_t before = h.prober->pings;
  auto after_pings = [&](std::size_t n) {
    REQUIRE(h.run_until([&] { return h.prober->pings == before + n; }));
    return h.state();
  };
  CHECK(after_pings(1) == StageState::up);
  CHECK(after_pings(2) == StageState::up);
  CHECK(after_pings(3) == StageState::up);  // a success: the count starts again
  CHECK(after_pings(4) == StageState::up);
  CHECK(after_pings(5) == StageState::up);
  CHECK(after_pings(6) == StageState::up);  // tandem's own shortage says nothing of the stage
  CHECK(after_pings(7) == StageState::unhealthy);
  CHECK(h.supervisor->status().at(0).detail ==
        "failed 3 consecutive pings (GET /ping answered 503)");
  CHECK(h.supervisor->unavailable(0) == std::nullopt);  // unhealthy still takes requests
  CHECK(after_pings(8) == StageState::up);
  CHECK(h.supervisor->status().at(0).detail.empty());
}

TEST_CASE("a stage that dies after start-up is restarted with the restart policy's backoff") {
  Supervisor::Options options;
  options.restart.initial_delay = 100ms;
  options.restart.multiplier = 2.0;
  options.restart.max_delay = 1s;
  Harness h({"model"}, options);
  std::vector<std::pair<std::size_t, std::uint16_t>> restarted;
  h.supervisor->on_restarted(
      [&](std::size_t stage, std::uint16_t port) { restarted.emplace_back(stage, port); });
  REQUIRE_FALSE(h.start());
  // From now on every new process crashes at once.
  h.launcher->script = [](FakeProcess& p) { p.exit(1); };
  const auto died = h.time->now();
  h.launcher->launched.at(0)->exit(1);
  REQUIRE(h.run_until([&] { return h.launcher->launched.size() == 7; }));
  std::vector<Clock::duration> delays;
  Clock::time_point previous = died;
  for (std::size_t i = 1; i < h.launcher->launch_times.size(); ++i) {
    delays.push_back(h.launcher->launch_times[i] - previous);
    previous = h.launcher->launch_times[i];
  }
  CHECK(delays == std::vector<Clock::duration>{100ms, 200ms, 400ms, 800ms, 1s, 1s});
  CHECK(h.supervisor->status().at(0).restarts == 6);
  CHECK(restarted.size() == 6);  // each passed /ping before it crashed
}

TEST_CASE("a restarted stage that comes back healthy is reported to the chain") {
  Harness h({"featurize", "model"});
  std::vector<std::size_t> restarted;
  h.supervisor->on_restarted([&](std::size_t stage, std::uint16_t) { restarted.push_back(stage); });
  REQUIRE_FALSE(h.start());
  h.launcher->of("model").at(0)->exit(137);
  REQUIRE(h.run_until([&] { return h.state(1) == StageState::down; }));
  CHECK(h.supervisor->unavailable(1) ==
        "stage 'model' (container-2) is down (exited with status 137)");
  REQUIRE(h.run_until([&] { return !restarted.empty(); }));
  CHECK(restarted == std::vector<std::size_t>{1});
  CHECK(h.state(1) == StageState::up);
  CHECK(h.launcher->of("model").size() == 2);
  CHECK(h.supervisor->status().at(1).restarts == 1);
}

TEST_CASE("a stage that cannot be relaunched stays down and is tried again with backoff") {
  Harness h({"model"});
  REQUIRE_FALSE(h.start());
  h.launcher->refuse = "cannot execute 'model': Permission denied";
  const auto died = h.time->now();
  h.launcher->launched.at(0)->exit(1);
  REQUIRE(h.run_until([&] { return h.state() == StageState::down && h.time->now() > died; }));
  CHECK(h.time->now() == died + 100ms);
  CHECK(h.supervisor->status().at(0).detail ==
        "cannot restart: cannot execute 'model': Permission denied");
  h.launcher->refuse.reset();
  REQUIRE(h.run_until([&] { return h.state() == StageState::up; }));
  CHECK(h.launcher->launch_times.back() == died + 100ms + 200ms);
  CHECK(h.supervisor->status().at(0).restarts == 2);
}

TEST_CASE("stop sends SIGTERM, then SIGKILL after stage_stop_timeout to a stage that ignores it") {
  Harness h({"featurize", "model"});
  REQUIRE_FALSE(h.start());
  auto& stubborn = *h.launcher->of("model").at(0);
  stubborn.ignores_sigterm = true;
  const auto stopping = h.time->now();
  h.stop();
  const auto& polite = *h.launcher->of("featurize").at(0);
  CHECK(signals_of(polite) == std::vector<int>{SIGTERM});
  REQUIRE(signals_of(stubborn) == std::vector<int>{SIGTERM, SIGKILL});
  CHECK(stubborn.signals[0].at == stopping);
  CHECK(stubborn.signals[1].at == stopping + 30s);
  CHECK(h.time->now() == stopping + 30s);
  CHECK(h.state(0) == StageState::stopped);
  CHECK(h.state(1) == StageState::stopped);
  CHECK_FALSE(h.supervisor->all_up());
}

TEST_CASE("a stage that exits at SIGTERM is not killed, and stop does not wait") {
  Harness h({"model"});
  REQUIRE_FALSE(h.start());
  const auto stopping = h.time->now();
  h.stop();
  CHECK(signals_of(*h.launcher->launched.at(0)) == std::vector<int>{SIGTERM});
  CHECK(h.time->now() == stopping);
  CHECK(h.state() == StageState::stopped);
}

TEST_CASE("a stage that exits while stopping is not restarted") {
  Harness h({"model"});
  REQUIRE_FALSE(h.start());
  h.stop();
  REQUIRE_FALSE(h.run_until([&] { return h.launcher->launched.size() > 1; }));
  CHECK(h.launcher->launched.size() == 1);
}

}  // namespace
}  // namespace tandem::supervisor
