// The seam between the supervisor and the stage processes it runs: a Launcher starts one from
// a LaunchSpec and hands back a StageProcess, the little the supervisor needs of it (its
// output line by line, its end, signals). ProcessLauncher is the real one (ChildProcess, its
// shim and pipes); the supervisor's unit tests script fake processes in its place.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/supervisor/listen_check.h"
#include "pipeline/supervisor/process.h"
#include "tandem/proto/result.h"

namespace tandem::supervisor {

// One running stage. The supervisor shares it with the coroutines that read its output and
// wait for its end; it is used on the supervisor's executor only.
class StageProcess {
 public:
  virtual ~StageProcess() = default;

  virtual pid_t pid() const = 0;
  // The next line it printed, without its '\n' (a line longer than the reader's limit comes
  // in pieces, an unterminated last line at the end), or nullopt once its output is closed.
  virtual boost::asio::awaitable<std::optional<std::string>> read_line() = 0;
  // Completes when it has exited and no process it started is left.
  virtual boost::asio::awaitable<ExitStatus> wait() = 0;
  // Set once wait() has seen it end.
  virtual const std::optional<ExitStatus>& exit_status() const = 0;
  virtual void signal(int sig) = 0;
  // The sockets it or any process it started listens on at an address other than loopback.
  virtual std::vector<ListeningSocket> exposed_listeners() const = 0;
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  // The started process, or why it could not be started (naming the program).
  virtual Result<std::shared_ptr<StageProcess>, std::string> launch(const LaunchSpec& spec) = 0;
};

// Starts real processes with ChildProcess, on `executor`.
std::unique_ptr<Launcher> make_process_launcher(boost::asio::any_io_executor executor);

}  // namespace tandem::supervisor
