// Runs the pipeline's stage processes: gives each its ports (PortAllocator), starts it with
// the SageMaker container environment, forwards its output to the log, waits for /ping,
// restarts it with backoff when it dies, and stops it with SIGTERM then SIGKILL. It owns the
// processes; the chain executor only asks it whether a stage can take requests right now.
// It touches processes, HTTP and time only through its Io (a Launcher, a Prober, a
// TimeSource), so its state machine is unit-tested on fakes under simulated time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/common/gate.h"
#include "pipeline/common/http_client.h"
#include "pipeline/spec/spec.h"
#include "pipeline/supervisor/launcher.h"
#include "pipeline/supervisor/port_allocator.h"
#include "pipeline/supervisor/prober.h"
#include "pipeline/supervisor/restart_policy.h"
#include "pipeline/supervisor/time_source.h"
#include "tandem/proto/result.h"

namespace tandem::supervisor {

enum class StageState { starting, up, unhealthy, down, stopped };
std::string_view to_string(StageState state);

struct StageStatus {
  std::string name;
  std::string container;
  StageState state = StageState::starting;
  std::uint16_t port = 0;
  std::uint32_t restarts = 0;
  std::string detail;  // why it is not up
};

// Start-up failed: the message names the stage, what happened and its last output lines.
class StartupError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Supervisor {
 public:
  struct Options {
    std::chrono::milliseconds ping_timeout{2'000};
    std::chrono::milliseconds startup_poll_interval{100};
    std::chrono::milliseconds liveness_interval{1'000};
    std::uint32_t liveness_failures = 3;  // consecutive failed pings that mark a stage unhealthy
    std::size_t tail_lines = 20;
    RestartPolicy::Options restart{};
  };
  // Called when a stage has been restarted and is healthy again on `port`.
  using RestartedCallback = std::function<void(std::size_t stage, std::uint16_t port)>;
  // Called before each launch of a stage, at start and at every restart, to add what the
  // stage must inherit (a shared-memory channel). May throw: the launch then fails with it.
  using LaunchHook = std::function<void(std::size_t stage, LaunchSpec& launch)>;

  // What the supervisor acts through, all used on its executor.
  struct Io {
    std::unique_ptr<Launcher> launcher;
    std::unique_ptr<Prober> prober;
    std::unique_ptr<TimeSource> time;
  };
  // Real processes, HTTP pings and the steady clock.
  static Io real_io(boost::asio::any_io_executor executor);

  Supervisor(boost::asio::any_io_executor executor, const spec::PipelineSpec& spec);
  Supervisor(boost::asio::any_io_executor executor, const spec::PipelineSpec& spec,
             Options options);
  Supervisor(boost::asio::any_io_executor executor, const spec::PipelineSpec& spec, Options options,
             Io io);
  ~Supervisor();

  // Starts every stage and waits until each passes /ping. Throws StartupError after stopping
  // whatever it started.
  boost::asio::awaitable<void> start();
  // SIGTERM to every stage, SIGKILL after the spec's stage_stop_timeout; returns when all
  // have exited.
  boost::asio::awaitable<void> stop();

  // Why stage `i` cannot take requests now, or nullopt when it is up.
  std::optional<std::string> unavailable(std::size_t i) const;
  bool all_up() const;
  std::uint16_t port(std::size_t i) const;
  std::vector<StageStatus> status() const;
  void on_restarted(RestartedCallback callback) { on_restarted_ = std::move(callback); }
  void on_launch(LaunchHook hook) { on_launch_ = std::move(hook); }

 private:
  struct Stage;
  Status<std::string> launch_all();
  Status<std::string> launch(Stage& stage);
  Result<LaunchSpec, std::string> launch_spec(const Stage& stage) const;
  void warn_if_exposed(const Stage& stage) const;
  boost::asio::awaitable<void> pump_output(Stage& stage, std::shared_ptr<StageProcess> process);
  boost::asio::awaitable<void> watch_exit(Stage& stage, std::shared_ptr<StageProcess> process);
  // Healthy means 200. An error with local_failure says tandem itself could not make the
  // ping (out of descriptors): that says nothing of the stage.
  boost::asio::awaitable<Status<common::HttpGetError>> ping(const Stage& stage);
  boost::asio::awaitable<Status<std::string>> wait_all_healthy();
  boost::asio::awaitable<Result<bool, std::string>> check_starting(Stage& stage);
  boost::asio::awaitable<void> restart(Stage& stage, std::chrono::milliseconds delay);
  Status<std::string> relaunch(Stage& stage);
  boost::asio::awaitable<void> wait_healthy_again(Stage& stage);
  boost::asio::awaitable<void> liveness_loop();
  boost::asio::awaitable<void> check_liveness(Stage& stage);
  void mark_up(Stage& stage);
  std::string describe_failure(const Stage& stage, const std::string& what) const;

  boost::asio::any_io_executor executor_;
  const spec::PipelineSpec& spec_;
  Options options_;
  Io io_;
  PortAllocator ports_;
  // One entry per running process, left when watch_exit sees it end: stop() waits on it.
  // Declared before stages_, whose entries it must outlive.
  common::Gate live_;
  std::vector<std::unique_ptr<Stage>> stages_;
  RestartedCallback on_restarted_;
  LaunchHook on_launch_;
  bool running_ = false;  // start-up finished: exits are restarted, not fatal
  bool stopping_ = false;
};

}  // namespace tandem::supervisor
