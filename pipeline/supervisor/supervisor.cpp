#include "pipeline/supervisor/supervisor.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <deque>
#include <iterator>

#include "pipeline/common/log.h"
#include "pipeline/spec/commands.h"

namespace tandem::supervisor {

namespace asio = boost::asio;
using Clock = TimeSource::Clock;
using std::chrono::milliseconds;

// How long a stage that failed start-up has to deliver its last output lines to the message.
constexpr milliseconds output_grace{500};

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
  Stage(const spec::StageSpec& s, std::size_t i, RestartPolicy::Options restart,
        asio::any_io_executor executor)
      : spec(s), index(i), output(std::move(executor)), policy(restart) {}

  StagePorts ports;  // held for the stage's life; the bind port moves only when taken
  std::shared_ptr<StageProcess> process;
  common::Gate::Holder running;  // in the supervisor's live_ gate until watch_exit sees the end
  common::Gate output;           // entered while the current process's output is open
  common::Gate::Holder output_open;
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

Supervisor::Io Supervisor::real_io(asio::any_io_executor executor) {
  return {make_process_launcher(executor), make_http_prober(), make_steady_time(executor)};
}

Supervisor::Supervisor(asio::any_io_executor executor, const spec::PipelineSpec& spec)
    : Supervisor(std::move(executor), spec, Options{}) {}

Supervisor::Supervisor(asio::any_io_executor executor, const spec::PipelineSpec& spec,
                       Options options)
    : Supervisor(executor, spec, options, real_io(executor)) {}

Supervisor::Supervisor(asio::any_io_executor executor, const spec::PipelineSpec& spec,
                       Options options, Io io)
    : executor_(std::move(executor)),
      spec_(spec),
      options_(options),
      io_(std::move(io)),
      ports_(spec.server.stage_port_range, spec.server.stage_safe_ports,
             static_cast<std::uint32_t>(getpid()) * 7919u),
      live_(executor_) {
  for (std::size_t i = 0; i < spec.stages.size(); ++i)
    stages_.push_back(std::make_unique<Stage>(spec.stages[i], i, options_.restart, executor_));
}

Supervisor::~Supervisor() = default;

Result<LaunchSpec, std::string> Supervisor::launch_spec(const Stage& stage) const {
  LaunchSpec launch;
  try {
    launch.argv = stage.spec.command;
    // Looked up again at every start: the file may have moved since the spec was checked;
    // when it is nowhere, the launch fails with the exec's own error.
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
  } catch (const std::exception& e) {  // the launch hook says why it failed by throwing
    return Err{std::string(e.what())};
  }
  return launch;
}

Status<std::string> Supervisor::launch(Stage& stage) {
  auto running = live_.try_enter();
  if (!running) return std::string("tandem is stopping");
  auto launch = launch_spec(stage);
  if (!launch) return std::move(launch).error();
  auto launched = io_.launcher->launch(*launch);
  if (!launched) return std::move(launched).error();
  auto process = *launched;
  stage.process = process;
  stage.running = std::move(*running);
  stage.output_open = *stage.output.try_enter();  // never closed
  stage.state = StageState::starting;
  stage.detail = "starting";
  stage.ping_failures = 0;
  stage.launched = io_.time->now();
  stage.policy.on_started(stage.launched);
  log::info("{} started: pid {}, port {}, safe ports {}", stage.label(), process->pid(),
            stage.ports.bind, stage.ports.safe.to_string());
  // The environment tandem adds to its own, which it never prints: secret values masked.
  log::debug("{} command: [{}] ({}) in {}; environment added: {}", stage.label(),
             fmt::join(launch->argv, ", "), launch->program, launch->working_dir,
             spec::describe_env(stage.spec, launch->env));
  asio::co_spawn(executor_, pump_output(stage, process), asio::detached);
  asio::co_spawn(executor_, watch_exit(stage, process), asio::detached);
  return {};
}

asio::awaitable<void> Supervisor::pump_output(Stage& stage, std::shared_ptr<StageProcess> process) {
  while (auto line = co_await process->read_line()) {
    if (!line->empty() && line->back() == '\r') line->pop_back();
    log::info("{} | {}", stage.spec.name, *line);
    stage.tail.push_back(std::move(*line));
    while (stage.tail.size() > options_.tail_lines) stage.tail.pop_front();
  }
  if (stage.process == process) stage.output_open.release();
}

asio::awaitable<void> Supervisor::watch_exit(Stage& stage, std::shared_ptr<StageProcess> process) {
  const ExitStatus status = co_await process->wait();
  if (stage.process != process) co_return;
  // Left when this returns, once the stage's state says how it ended.
  const common::Gate::Holder running = std::move(stage.running);
  stage.state = stopping_ ? StageState::stopped : StageState::down;
  stage.detail = status.describe();
  if (stopping_) {
    log::info("{} stopped ({})", stage.label(), status.describe());
    co_return;
  }
  log::warn("{} {}", stage.label(), stage.detail);
  if (running_) {
    const auto delay = stage.policy.on_exited(io_.time->now());
    asio::co_spawn(executor_, restart(stage, delay), asio::detached);
  }
}

asio::awaitable<Status<common::HttpGetError>> Supervisor::ping(const Stage& stage) {
  auto answer = co_await io_.prober->ping(stage.ports.bind, options_.ping_timeout);
  if (!answer) co_return std::move(answer).error();
  if (*answer == 200) co_return Status<common::HttpGetError>::success();
  co_return common::HttpGetError{"GET /ping answered " + std::to_string(*answer)};
}

std::string Supervisor::describe_failure(const Stage& stage, const std::string& what) const {
  std::string message = stage.label() + " " + what;
  if (stage.tail.empty()) return message + "; it printed nothing";
  message += "; its last lines:";
  for (const auto& line : stage.tail) message += "\n    | " + line;
  return message;
}

void Supervisor::warn_if_exposed(const Stage& stage) const {
  for (const ListeningSocket& socket : stage.process->exposed_listeners()) {
    log::warn(
        "{} listens on {}, reachable from other hosts; tandem calls stages on 127.0.0.1 "
        "only: bind the stage to 127.0.0.1 (see docs/security.md)",
        stage.label(), to_string(socket));
  }
}

void Supervisor::mark_up(Stage& stage) {
  stage.state = StageState::up;
  stage.detail.clear();
}

asio::awaitable<Status<std::string>> Supervisor::wait_all_healthy() {
  std::vector<Stage*> pending;
  for (auto& s : stages_) pending.push_back(s.get());
  while (!pending.empty()) {
    if (stopping_) co_return std::string("start-up interrupted: tandem is stopping");
    for (auto it = pending.begin(); it != pending.end();) {
      const auto up = co_await check_starting(**it);
      if (!up) co_return up.error();
      it = *up ? pending.erase(it) : std::next(it);
    }
    if (!pending.empty()) co_await io_.time->sleep(options_.startup_poll_interval);
  }
  co_return Status<std::string>::success();
}

// True once the stage passes /ping; its start-up failure when it exited or ran out of time.
asio::awaitable<Result<bool, std::string>> Supervisor::check_starting(Stage& stage) {
  if (const auto status = stage.process->exit_status()) {
    // Let the last lines it printed reach the message.
    co_await io_.time->wait(stage.output, output_grace);
    co_return Err{describe_failure(stage, status->describe() + " during start-up")};
  }
  const auto pinged = co_await ping(stage);
  if (pinged) {
    mark_up(stage);
    log::info("{} is healthy on port {} after {:.2f} s", stage.label(), stage.ports.bind,
              seconds(io_.time->now() - stage.launched));
    warn_if_exposed(stage);
    co_return true;
  }
  if (io_.time->now() - stage.launched > stage.spec.startup_timeout) {
    co_return Err{describe_failure(
        stage, "did not answer GET /ping with 200 within " +
                   fmt::format("{:g}", seconds(stage.spec.startup_timeout)) +
                   " s (startup_timeout_s; last attempt: " + pinged.error().message + ")")};
  }
  co_return false;
}

Status<std::string> Supervisor::launch_all() {
  for (auto& stage : stages_) {
    const auto ports = ports_.acquire();
    if (!ports) {
      return fmt::format(
          "{}: no free block of {} consecutive ports (its SAGEMAKER_BIND_TO_PORT and a "
          "SAGEMAKER_SAFE_PORT_RANGE of {}) in stage_port_range {}; {}",
          stage->label(), ports_.block_size(), spec_.server.stage_safe_ports,
          spec_.server.stage_port_range.to_string(), ports_.describe_shortage());
    }
    stage->ports = *ports;
    if (auto launched = launch(*stage); !launched) return stage->label() + ": " + launched.error();
  }
  return {};
}

asio::awaitable<void> Supervisor::start() {
  auto started = launch_all();
  if (started) started = co_await wait_all_healthy();
  if (!started) {
    co_await stop();
    throw StartupError(started.error());
  }
  running_ = true;
  asio::co_spawn(executor_, liveness_loop(), asio::detached);
}

asio::awaitable<void> Supervisor::restart(Stage& stage, milliseconds delay) {
  log::info("{} restarts in {} ms (restart {})", stage.label(), delay.count(), stage.restarts + 1);
  co_await io_.time->sleep(delay);
  if (stopping_) co_return;
  if (auto relaunched = relaunch(stage); !relaunched) {
    stage.state = StageState::down;
    stage.detail = "cannot restart: " + relaunched.error();
    log::error("{} {}", stage.label(), stage.detail);
    asio::co_spawn(executor_, restart(stage, stage.policy.on_exited(io_.time->now())),
                   asio::detached);
    co_return;
  }
  co_await wait_healthy_again(stage);
}

Status<std::string> Supervisor::relaunch(Stage& stage) {
  const std::uint16_t old_port = stage.ports.bind;
  if (!ports_.rebind(stage.ports)) {
    return fmt::format("port {} is taken and no other port of stage_port_range {} is free; {}",
                       old_port, spec_.server.stage_port_range.to_string(),
                       ports_.describe_shortage());
  }
  if (stage.ports.bind != old_port) {
    log::warn(
        "{} moves from port {} to port {}: port {} cannot be bound (another socket listens "
        "on it, or lingers in TIME_WAIT without SO_REUSEADDR)",
        stage.label(), old_port, stage.ports.bind, old_port);
  }
  ++stage.restarts;
  return launch(stage);
}

asio::awaitable<void> Supervisor::wait_healthy_again(Stage& stage) {
  const auto process = stage.process;
  while (!stopping_ && stage.process == process && stage.alive()) {
    const auto pinged = co_await ping(stage);
    if (pinged) {
      if (stage.process != process || !stage.alive()) co_return;
      mark_up(stage);
      log::info("{} is healthy again on port {}", stage.label(), stage.ports.bind);
      warn_if_exposed(stage);
      if (on_restarted_) on_restarted_(stage.index, stage.ports.bind);
      co_return;
    }
    if (io_.time->now() - stage.launched > stage.spec.startup_timeout) {
      stage.detail = "restarted but never passed /ping (" + pinged.error().message + ")";
      log::error("{} {}; killing it", stage.label(), stage.detail);
      process->signal(SIGKILL);  // watch_exit schedules the next attempt
      co_return;
    }
    co_await io_.time->sleep(options_.startup_poll_interval);
  }
}

asio::awaitable<void> Supervisor::liveness_loop() {
  while (!stopping_) {
    co_await io_.time->sleep(options_.liveness_interval);
    for (auto& stage : stages_) {
      if (stopping_) co_return;
      co_await check_liveness(*stage);
    }
  }
}

asio::awaitable<void> Supervisor::check_liveness(Stage& stage) {
  if (stage.state != StageState::up && stage.state != StageState::unhealthy) co_return;
  const auto process = stage.process;
  const auto pinged = co_await ping(stage);
  if (stage.process != process || !stage.alive()) co_return;
  if (!pinged && pinged.error().local_failure) {
    // tandem's own shortage: the stage is not marked unhealthy for it.
    log::debug("{} could not be pinged: {}", stage.label(), pinged.error().message);
    co_return;
  }
  if (pinged) {
    stage.ping_failures = 0;
    if (stage.state == StageState::unhealthy) {
      mark_up(stage);
      log::info("{} passes /ping again", stage.label());
    }
  } else if (++stage.ping_failures >= options_.liveness_failures && stage.state == StageState::up) {
    stage.state = StageState::unhealthy;
    stage.detail = "failed " + std::to_string(stage.ping_failures) + " consecutive pings (" +
                   pinged.error().message + ")";
    log::warn("{} {}", stage.label(), stage.detail);
  }
}

asio::awaitable<void> Supervisor::stop() {
  stopping_ = true;
  live_.close();
  for (auto& s : stages_)
    if (s->alive()) s->process->signal(SIGTERM);
  if (co_await io_.time->wait(live_, spec_.server.stage_stop_timeout) > 0) {
    for (auto& s : stages_) {
      if (!s->alive()) continue;
      log::warn("{} did not stop within {:g} s of SIGTERM; sending SIGKILL", s->label(),
                seconds(spec_.server.stage_stop_timeout));
      s->process->signal(SIGKILL);
    }
    co_await live_.wait();
  }
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
