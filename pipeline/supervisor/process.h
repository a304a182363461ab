// One stage process: started with fork+exec (argv, never a shell) in its own process group,
// under a small shim process (a fork of tandem) that contains it: the shim is the subreaper
// of every process the stage starts, whatever it does with sessions and groups (setsid,
// daemons), kills them all if tandem dies, even by SIGKILL, or when the stage exits, and only
// then exits the way the stage did. Its stdout and stderr are merged into one pipe the caller
// reads; its end is observed through the shim's pidfd, so waiting never blocks the event loop.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/spec/spec.h"
#include "tandem/proto/shm_segment.h"

namespace tandem::supervisor {

struct LaunchSpec {
  std::vector<std::string> argv;
  std::string working_dir;
  std::map<std::string, std::string> env;  // added to (and overriding) tandem's environment
  // When set, the stage runs in its own mount namespace with this folder bind-mounted at
  // model_mount_point (root, or an unprivileged user namespace where the kernel allows).
  std::optional<std::string> model_mount_source;
  // Descriptors the stage inherits under the same numbers (a shared-memory channel); every
  // other descriptor of tandem is closed in the stage. Closed in tandem with the LaunchSpec.
  std::vector<proto::shm::UniqueFd> inherit;
  // The file to execute (spec::resolve_command); empty: argv[0], looked up on PATH.
  std::string program;
};

using spec::model_mount_point;

struct ExitStatus {
  int wait_status = 0;
  bool exited() const;
  int exit_code() const;
  int signal() const;            // 0 when it exited normally
  std::string describe() const;  // "exited with status 2", "was killed by signal 9 (SIGKILL)"
};

class ChildProcess {
 public:
  // Throws std::runtime_error naming the program when it cannot be started (not found,
  // not executable, bad working directory).
  static std::unique_ptr<ChildProcess> launch(boost::asio::any_io_executor executor,
                                              const LaunchSpec& spec);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }  // the stage's own pid
  // The shim's pid: every process the stage started is below it.
  pid_t shim_pid() const { return shim_; }
  // The read end of the merged stdout/stderr pipe.
  boost::asio::posix::stream_descriptor& output() { return output_; }
  // Completes when the stage has exited and no process it started is left, and reaps it.
  boost::asio::awaitable<ExitStatus> wait();
  const std::optional<ExitStatus>& exit_status() const { return status_; }
  // Signals the stage's process group and every other process the stage started; a no-op
  // once the process is reaped. After SIGTERM, what the stage leaves behind may finish until
  // SIGKILL; otherwise the stage's exit ends them.
  void signal(int sig);

 private:
  ChildProcess(boost::asio::any_io_executor executor, pid_t pid, pid_t shim, int pidfd,
               int output_fd);
  pid_t pid_;   // the stage, leader of its process group
  pid_t shim_;  // tandem's child, which waits for the stage
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::posix::stream_descriptor output_;
  std::optional<ExitStatus> status_;
};

}  // namespace tandem::supervisor
