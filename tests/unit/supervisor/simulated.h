// Fakes for the supervisor's seams (launcher.h, prober.h, time_source.h), scripted per test:
// stage processes that print, exit and answer signals as told, a /ping answered from a
// function, and simulated time, where a sleep ends as soon as nothing else can run. Every
// fake is used on one io_context, driven by run_until().
#pragma once

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/common/gate.h"
#include "pipeline/supervisor/launcher.h"
#include "pipeline/supervisor/prober.h"
#include "pipeline/supervisor/time_source.h"

namespace tandem::supervisor::simulated {

namespace asio = boost::asio;
using Clock = TimeSource::Clock;

// Wakes every coroutine waiting on it when notified; waiters re-check their condition.
class Event {
 public:
  explicit Event(asio::any_io_executor executor)
      : timer_(std::move(executor), asio::steady_timer::time_point::max()) {}
  asio::awaitable<void> wait() {
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

// Time that moves only when advance() says: the test loop (run_until) advances it to the
// next sleeper's end whenever nothing else is ready to run.
class SimulatedTime final : public TimeSource {
 public:
  explicit SimulatedTime(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  Clock::time_point now() const override { return now_; }

  asio::awaitable<void> sleep(Clock::duration duration) override {
    sleeps.push_back(duration);
    const auto sleeper = add_sleeper(duration);
    boost::system::error_code ec;
    co_await sleeper->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<std::size_t> wait(common::Gate& gate, Clock::duration timeout) override {
    if (gate.count() == 0) co_return 0;
    const auto sleeper = add_sleeper(timeout);
    asio::co_spawn(executor_, wake_when_empty(gate, sleeper), asio::detached);
    boost::system::error_code ec;
    co_await sleeper->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!sleeper->due) remove(sleeper);  // the gate emptied first: its deadline no longer counts
    co_return gate.count();
  }

  // Moves the clock to the earliest sleeper's end and wakes every sleeper due then; false
  // when nobody sleeps.
  bool advance() {
    if (sleepers_.empty()) return false;
    now_ = std::max(now_, sleepers_.begin()->first);
    while (!sleepers_.empty() && sleepers_.begin()->first <= now_) {
      sleepers_.begin()->second->due = true;
      sleepers_.begin()->second->timer.cancel();
      sleepers_.erase(sleepers_.begin());
    }
    return true;
  }

  Clock::time_point start() const { return start_; }
  Clock::duration elapsed() const { return now_ - start_; }

  std::vector<Clock::duration> sleeps;  // every sleep() asked for, in order

 private:
  struct Sleeper {
    explicit Sleeper(asio::any_io_executor executor)
        : timer(std::move(executor), asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool due = false;
  };

  std::shared_ptr<Sleeper> add_sleeper(Clock::duration duration) {
    auto sleeper = std::make_shared<Sleeper>(executor_);
    sleepers_.emplace(now_ + duration, sleeper);
    return sleeper;
  }
  void remove(const std::shared_ptr<Sleeper>& sleeper) {
    for (auto it = sleepers_.begin(); it != sleepers_.end(); ++it) {
      if (it->second == sleeper) {
        sleepers_.erase(it);
        return;
      }
    }
  }
  static asio::awaitable<void> wake_when_empty(common::Gate& gate,
                                               std::shared_ptr<Sleeper> sleeper) {
    co_await gate.wait();
    sleeper->timer.cancel();
  }

  asio::any_io_executor executor_;
  // Far from steady_clock's epoch, so that "launched at zero" never looks like "never".
  const Clock::time_point start_ = Clock::time_point{} + std::chrono::hours(1000);
  Clock::time_point now_ = start_;
  std::multimap<Clock::time_point, std::shared_ptr<Sleeper>> sleepers_;
};

// A stage process that does what its test tells it: print(), exit(), or die of a signal it
// does not ignore. Its output closes when it ends, unless keep_output_open says otherwise.
class FakeProcess final : public StageProcess {
 public:
  FakeProcess(asio::any_io_executor executor, const TimeSource& time, pid_t pid, LaunchSpec spec)
      : spec(std::move(spec)), time_(time), pid_(pid), output_(executor), ended_(executor) {}

  pid_t pid() const override { return pid_; }

  asio::awaitable<std::optional<std::string>> read_line() override {
    while (lines_.empty() && !output_closed_) co_await output_.wait();
    if (lines_.empty()) co_return std::nullopt;
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    co_return line;
  }

  asio::awaitable<ExitStatus> wait() override {
    while (!end_) co_await ended_.wait();
    status_ = end_;  // as ChildProcess: known once waited for
    co_return *status_;
  }

  const std::optional<ExitStatus>& exit_status() const override { return status_; }

  void signal(int sig) override {
    signals.push_back({sig, time_.now()});
    if (end_) return;
    if (sig == SIGKILL || (sig == SIGTERM && !ignores_sigterm)) end(ExitStatus{sig});
  }

  std::vector<ListeningSocket> exposed_listeners() const override { return {}; }

  void print(std::string line) {
    lines_.push_back(std::move(line));
    output_.notify();
  }
  void close_output() {
    output_closed_ = true;
    output_.notify();
  }
  void exit(int code) { end(ExitStatus{code << 8}); }
  bool ended() const { return end_.has_value(); }

  struct Signal {
    int sig;
    Clock::time_point at;
  };
  const LaunchSpec spec;
  std::vector<Signal> signals;    // every signal sent to it, with the simulated time
  bool ignores_sigterm = false;   // a stage that keeps running after SIGTERM
  bool keep_output_open = false;  // something it started still holds its output

 private:
  void end(ExitStatus status) {
    end_ = status;
    ended_.notify();
    if (!keep_output_open) close_output();
  }

  const TimeSource& time_;
  pid_t pid_;
  std::deque<std::string> lines_;
  bool output_closed_ = false;
  Event output_;
  std::optional<ExitStatus> end_;
  Event ended_;
  std::optional<ExitStatus> status_;
};

// Launches FakeProcesses; `script` runs on each new one (the stage's name is its argv[0]).
class FakeLauncher final : public Launcher {
 public:
  FakeLauncher(asio::any_io_executor executor, const TimeSource& time)
      : executor_(std::move(executor)), time_(time) {}

  Result<std::shared_ptr<StageProcess>, std::string> launch(const LaunchSpec& spec) override {
    if (refuse) return Err{*refuse};
    LaunchSpec copy;
    copy.argv = spec.argv;
    copy.env = spec.env;
    auto process = std::make_shared<FakeProcess>(
        executor_, time_, static_cast<pid_t>(1000 + launched.size()), std::move(copy));
    launched.push_back(process);
    launch_times.push_back(time_.now());
    if (script) script(*process);
    return std::shared_ptr<StageProcess>(process);
  }

  // The processes launched for the stage whose command is `name`, oldest first.
  std::vector<std::shared_ptr<FakeProcess>> of(const std::string& name) const {
    std::vector<std::shared_ptr<FakeProcess>> out;
    for (const auto& p : launched)
      if (p->spec.argv.at(0) == name) out.push_back(p);
    return out;
  }

  std::function<void(FakeProcess&)> script;
  std::optional<std::string> refuse;  // the next launches fail with this
  std::vector<std::shared_ptr<FakeProcess>> launched;
  std::vector<Clock::time_point> launch_times;

 private:
  asio::any_io_executor executor_;
  const TimeSource& time_;
};

// Answers /ping with `answer(port)` (200 by default), at once.
class FakeProber final : public Prober {
 public:
  asio::awaitable<Result<int, common::HttpGetError>> ping(std::uint16_t port,
                                                          std::chrono::milliseconds) override {
    ++pings;
    co_return answer ? answer(port) : Result<int, common::HttpGetError>(200);
  }

  std::function<Result<int, common::HttpGetError>(std::uint16_t port)> answer;
  std::size_t pings = 0;
};

// Runs `io` under `time` until `done()` holds: everything ready runs, then the clock jumps to
// the next sleeper's end. False when nothing is left to wake, or `limit` of simulated time
// has passed.
inline bool run_until(asio::io_context& io, SimulatedTime& time, const std::function<bool()>& done,
                      Clock::duration limit = std::chrono::hours(1)) {
  const auto until = time.now() + limit;
  for (;;) {
    io.restart();
    io.poll();
    if (done()) return true;
    if (time.now() > until || !time.advance()) return false;
  }
}

}  // namespace tandem::supervisor::simulated
