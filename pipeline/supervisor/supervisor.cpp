#include "pipeline/supervisor/supervisor.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pipeline/common/http_client.h"
#include "pipeline/common/log.h"
#include "pipeline/spec/commands.h"
#include "pipeline/supervisor/listen_check.h"

namespace tandem::supervisor {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string_view to_string(StageState state) {
  switch (state) {
    case StageState::starting:
      return "starting";
    case StageState::up:
      return "up";
    case StageState::unhealthy:
      return "unhealthy";
    case StageState::down:
      return "down";
    case StageState::stopped:
      return "stopped";
  }
  return "unknown";
}

struct Supervisor::Stage {
  const spec::StageSpec& spec;
  std::size_t index;
  explicit Stage(const spec::StageSpec& s, std::size_t i, RestartPolicy::Options restart)
      : spec(s), index(i), policy(restart) {}

  StagePorts ports;  // held for the stage's life; the bind port moves only when taken
  std::shared_ptr<ChildProcess> process;
  bool output_done = true;
  StageState state = StageState::starting;
  std::string detail = "starting";
  RestartPolicy policy;
  std::deque<std::string> tail;
  std::uint32_t restarts = 0;
  std::uint32_t ping_failures = 0;
  Clock::time_point launched{};

  bool alive() const { return process && !process->exit_status(); }
  std::string label() const { return "stage '" + spec.name + "' (" + spec.container + ")"; }
};

namespace {

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Supervisor::Supervisor(asio::any_io_executor executor, const spec::PipelineSpec& spec)
    : Supervisor(std::move(executor), spec, Options{}) {}

Supervisor::Supervisor(asio::any_io_executor executor, const spec::PipelineSpec& spec,
                       Options options)
    : executor_(std::move(executor)),
      spec_(spec),
      options_(options),
      ports_(spec.server.stage_port_range, spec.server.stage_safe_ports,
             static_cast<std::uint32_t>(getpid()) * 7919u) {
  for (std::size_t i = 0; i < spec.stages.size(); ++i)
    stages_.push_back(std::make_unique<Stage>(spec.stages[i], i, options_.restart));
}

Supervisor::~Supervisor() = default;

void Supervisor::launch(Stage& stage) {
  LaunchSpec launch;
  launch.argv = stage.spec.command;
  // Looked up again at every start: the file may have moved since the spec was checked; when
  // it is nowhere, the launch fails with the exec's own error.
  launch.program = spec::resolve_command(stage.spec, spec::CommandSearch::here()).program;
  launch.working_dir = stage.spec.working_dir;
  launch.env = stage.spec.env;
  // The container contract wins over anything the stage's env says.
  launch.env["SAGEMAKER_BIND_TO_PORT"] = std::to_string(stage.ports.bind);
  launch.env["SAGEMAKER_SAFE_PORT_RANGE"] = stage.ports.safe.to_string();
  if (stage.spec.model_dir) launch.env["SM_MODEL_DIR"] = *stage.spec.model_dir;
  if (stage.spec.mount_model_dir && stage.spec.model_dir) {
    launch.model_mount_source = *stage.spec.model_dir;
    launch.env["SM_MODEL_DIR"] = model_mount_point;
  }
  if (on_launch_) on_launch_(stage.index, launch);
  auto process = std::shared_ptr<ChildProcess>(ChildProcess::launch(executor_, launch));
  stage.process = process;
  stage.output_done = false;
  stage.state = StageState::starting;
  stage.detail = "starting";
  stage.ping_failures = 0;
  stage.launched = Clock::now();
  stage.policy.on_started(stage.launched);
  log::info("{} started: pid {}, port {}, safe ports {}", stage.label(), process->pid(),
            stage.ports.bind, stage.ports.safe.to_string());
  // The environment tandem adds to its own, which it never prints: secret values masked.
  log::debug("{} command: [{}] ({}) in {}; environment added: {}", stage.label(),
             fmt::join(launch.argv, ", "), launch.program, launch.working_dir,
             spec::describe_env(stage.spec, launch.env));
  asio::co_spawn(executor_, pump_output(stage, process), asio::detached);
  asio::co_spawn(executor_, watch_exit(stage, process), asio::detached);
}

asio::awaitable<void> Supervisor::pump_output(Stage& stage, std::shared_ptr<ChildProcess> process) {
  constexpr std::size_t max_line = 16 * 1024;
  std::string buffer;
  auto emit = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    log::info("{} | {}", stage.spec.name, line);
    stage.tail.push_back(std::move(line));
    while (stage.tail.size() > options_.tail_lines) stage.tail.pop_front();
  };
  for (;;) {
    boost::system::error_code ec;
    const std::size_t n =
        co_await asio::async_read_until(process->output(), asio::dynamic_buffer(buffer, max_line),
                                        '\n', asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::not_found) {  // a line longer than max_line: pass it on in pieces
      emit(std::exchange(buffer, {}));
      continue;
    }
    if (ec) break;
    emit(buffer.substr(0, n - 1));
    buffer.erase(0, n);
  }
  if (!buffer.empty()) emit(std::move(buffer));
  if (stage.process == process) stage.output_done = true;
}

asio::awaitable<void> Supervisor::watch_exit(Stage& stage, std::shared_ptr<ChildProcess> process) {
  const ExitStatus status = co_await process->wait();
  if (stage.process != process) co_return;
  stage.state = stopping_ ? StageState::stopped : StageState::down;
  stage.detail = status.describe();
  if (stopping_) {
    log::info("{} stopped ({})", stage.label(), status.describe());
    co_return;
  }
  log::warn("{} {}", stage.label(), stage.detail);
  if (running_) {
    const auto delay = stage.policy.on_exited(Clock::now());
    asio::co_spawn(executor_, restart(stage, delay), asio::detached);
  }
}

asio::awaitable<void> Supervisor::sleep(milliseconds duration) {
  asio::steady_timer timer(executor_, duration);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<bool> Supervisor::ping(const Stage& stage, std::string* error,
                                       bool* local_failure) {
  const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), stage.ports.bind);
  auto result = co_await common::http_get(endpoint, "/ping", options_.ping_timeout);
  if (result.status == 200) co_return true;
  if (local_failure) *local_failure = result.local_failure;
  if (error) {
    *error = result.status ? "GET /ping answered " + std::to_string(result.status) : result.error;
  }
  co_return false;
}

std::string Supervisor::describe_failure(const Stage& stage, const std::string& what) const {
  std::string message = stage.label() + " " + what;
  if (stage.tail.empty()) return message + "; it printed nothing";
  message += "; its last lines:";
  for (const auto& line : stage.tail) message += "\n    | " + line;
  return message;
}

// Everything below the stage's shim counts: its workers, and a daemon that left its session.
void Supervisor::warn_if_exposed(const Stage& stage) const {
  for (const ListeningSocket& socket : exposed_listeners(stage.process->shim_pid())) {
    log::warn(
        "{} listens on {}, reachable from other hosts; tandem calls stages on 127.0.0.1 "
        "only: bind the stage to 127.0.0.1 (see docs/security.md)",
        stage.label(), to_string(socket));
  }
}

asio::awaitable<void> Supervisor::wait_all_healthy() {
  std::vector<Stage*> pending;
  for (auto& s : stages_) pending.push_back(s.get());
  while (!pending.empty()) {
    if (stopping_) throw StartupError("start-up interrupted: tandem is stopping");
    for (auto it = pending.begin(); it != pending.end();) {
      Stage& stage = **it;
      std::string error;
      if (const auto& status = stage.process->exit_status()) {
        // Let the last lines it printed reach the message.
        for (int i = 0; i < 50 && !stage.output_done; ++i) co_await sleep(milliseconds(10));
        throw StartupError(describe_failure(stage, status->describe() + " during start-up"));
      }
      if (co_await ping(stage, &error)) {
        stage.state = StageState::up;
        stage.detail.clear();
        log::info("{} is healthy on port {} after {:.2f} s", stage.label(), stage.ports.bind,
                  seconds(Clock::now() - stage.launched));
        warn_if_exposed(stage);
        it = pending.erase(it);
        continue;
      }
      if (Clock::now() - stage.launched > stage.spec.startup_timeout) {
        throw StartupError(
            describe_failure(stage, "did not answer GET /ping with 200 within " +
                                        fmt::format("{:g}", seconds(stage.spec.startup_timeout)) +
                                        " s (startup_timeout_s; last attempt: " + error + ")"));
      }
      ++it;
    }
    if (!pending.empty()) co_await sleep(options_.startup_poll_interval);
  }
}

asio::awaitable<void> Supervisor::start() {
  std::optional<std::string> failure;
  for (auto& stage : stages_) {
    const auto ports = ports_.acquire();
    if (!ports) {
      failure = fmt::format(
          "{}: no free block of {} consecutive ports (its SAGEMAKER_BIND_TO_PORT and a "
          "SAGEMAKER_SAFE_PORT_RANGE of {}) in stage_port_range {}; {}",
          stage->label(), ports_.block_size(), spec_.server.stage_safe_ports,
          spec_.server.stage_port_range.to_string(), ports_.describe_shortage());
      break;
    }
    stage->ports = *ports;
    try {
      launch(*stage);
    } catch (const std::exception& e) {
      failure = stage->label() + ": " + e.what();
      break;
    }
  }
  if (!failure) {
    try {
      co_await wait_all_healthy();
    } catch (const StartupError& e) {
      failure = e.what();
    }
  }
  if (failure) {
    co_await stop();
    throw StartupError(*failure);
  }
  running_ = true;
  asio::co_spawn(executor_, liveness_loop(), asio::detached);
}

asio::awaitable<void> Supervisor::restart(Stage& stage, milliseconds delay) {
  log::info("{} restarts in {} ms (restart {})", stage.label(), delay.count(), stage.restarts + 1);
  co_await sleep(delay);
  if (stopping_) co_return;
  const std::uint16_t old_port = stage.ports.bind;
  try {
    if (!ports_.rebind(stage.ports)) {
      throw std::runtime_error(fmt::format(
          "port {} is taken and no other port of stage_port_range {} is free; {}", old_port,
          spec_.server.stage_port_range.to_string(), ports_.describe_shortage()));
    }
    if (stage.ports.bind != old_port) {
      log::warn(
          "{} moves from port {} to port {}: port {} cannot be bound (another socket listens "
          "on it, or lingers in TIME_WAIT without SO_REUSEADDR)",
          stage.label(), old_port, stage.ports.bind, old_port);
    }
    ++stage.restarts;
    launch(stage);
  } catch (const std::exception& e) {
    stage.state = StageState::down;
    stage.detail = std::string("cannot restart: ") + e.what();
    log::error("{} {}", stage.label(), stage.detail);
    asio::co_spawn(executor_, restart(stage, stage.policy.on_exited(Clock::now())), asio::detached);
    co_return;
  }
  const auto process = stage.process;
  std::string error;
  while (!stopping_ && stage.process == process && stage.alive()) {
    if (co_await ping(stage, &error)) {
      if (stage.process != process || !stage.alive()) co_return;
      stage.state = StageState::up;
      stage.detail.clear();
      log::info("{} is healthy again on port {}", stage.label(), stage.ports.bind);
      warn_if_exposed(stage);
      if (on_restarted_) on_restarted_(stage.index, stage.ports.bind);
      co_return;
    }
    if (Clock::now() - stage.launched > stage.spec.startup_timeout) {
      stage.detail = "restarted but never passed /ping (" + error + ")";
      log::error("{} {}; killing it", stage.label(), stage.detail);
      process->signal(SIGKILL);  // watch_exit schedules the next attempt
      co_return;
    }
    co_await sleep(options_.startup_poll_interval);
  }
}

asio::awaitable<void> Supervisor::liveness_loop() {
  while (!stopping_) {
    co_await sleep(options_.liveness_interval);
    for (auto& s : stages_) {
      Stage& stage = *s;
      if (stopping_) co_return;
      if (stage.state != StageState::up && stage.state != StageState::unhealthy) continue;
      const auto process = stage.process;
      std::string error;
      bool local_failure = false;
      const bool ok = co_await ping(stage, &error, &local_failure);
      if (stage.process != process || !stage.alive()) continue;
      if (!ok && local_failure) {
        // tandem's own shortage: the stage is not marked unhealthy for it.
        log::debug("{} could not be pinged: {}", stage.label(), error);
        continue;
      }
      if (ok) {
        stage.ping_failures = 0;
        if (stage.state == StageState::unhealthy) {
          stage.state = StageState::up;
          stage.detail.clear();
          log::info("{} passes /ping again", stage.label());
        }
      } else if (++stage.ping_failures >= options_.liveness_failures &&
                 stage.state == StageState::up) {
        stage.state = StageState::unhealthy;
        stage.detail =
            "failed " + std::to_string(stage.ping_failures) + " consecutive pings (" + error + ")";
        log::warn("{} {}", stage.label(), stage.detail);
      }
    }
  }
}

asio::awaitable<void> Supervisor::stop() {
  stopping_ = true;
  auto any_alive = [&] {
    for (auto& s : stages_)
      if (s->alive()) return true;
    return false;
  };
  for (auto& s : stages_)
    if (s->alive()) s->process->signal(SIGTERM);
  const auto deadline = Clock::now() + spec_.server.stage_stop_timeout;
  while (any_alive() && Clock::now() < deadline) co_await sleep(milliseconds(20));
  for (auto& s : stages_) {
    if (!s->alive()) continue;
    log::warn("{} did not stop within {:g} s of SIGTERM; sending SIGKILL", s->label(),
              seconds(spec_.server.stage_stop_timeout));
    s->process->signal(SIGKILL);
  }
  while (any_alive()) co_await sleep(milliseconds(10));
  for (auto& s : stages_) s->state = StageState::stopped;
}

std::optional<std::string> Supervisor::unavailable(std::size_t i) const {
  const Stage& stage = *stages_.at(i);
  if (stage.state == StageState::up || stage.state == StageState::unhealthy) {
    if (stage.alive()) return std::nullopt;
    return stage.label() + " is down";
  }
  const std::string state(to_string(stage.state));
  return stage.label() + " is " + state +
         (stage.detail.empty() || stage.detail == state ? "" : " (" + stage.detail + ")");
}

bool Supervisor::all_up() const {
  for (const auto& s : stages_)
    if (s->state != StageState::up || !s->alive()) return false;
  return running_ && !stopping_;
}

std::uint16_t Supervisor::port(std::size_t i) const {
  return stages_.at(i)->ports.bind;
}

std::vector<StageStatus> Supervisor::status() const {
  std::vector<StageStatus> out;
  for (const auto& s : stages_) {
    out.push_back(
        {s->spec.name, s->spec.container, s->state, s->ports.bind, s->restarts, s->detail});
  }
  return out;
}

}  // namespace tandem::supervisor
