#include "pipeline/supervisor/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "pipeline/supervisor/shim.h"

namespace tandem::supervisor {

namespace asio = boost::asio;
using shim::ExecImage;
using shim::forward_signal;
using shim::launch_error;
using shim::read_reports;
using shim::run_shim;

bool ExitStatus::exited() const {
  return WIFEXITED(wait_status);
}
int ExitStatus::exit_code() const {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}
int ExitStatus::signal() const {
  return WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
}

std::string ExitStatus::describe() const {
  if (exited()) return "exited with status " + std::to_string(exit_code());
  if (signal() != 0) {
    const char* abbrev = sigabbrev_np(signal());
    return "was killed by signal " + std::to_string(signal()) +
           (abbrev ? " (SIG" + std::string(abbrev) + ")" : "");
  }
  return "wait status " + std::to_string(wait_status);
}

namespace {

void reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::launch(asio::any_io_executor executor,
                                                   const LaunchSpec& spec) {
  if (spec.argv.empty()) throw std::runtime_error("empty command");
  if (spec.model_mount_source) {
    std::error_code ec;
    std::filesystem::create_directories(model_mount_point, ec);
    if (ec) {
      throw std::runtime_error(std::string("mount_model_dir: cannot create the mount point ") +
                               model_mount_point + ": " + ec.message());
    }
  }
  ExecImage image(spec);
  int out[2], reports[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  if (pipe2(reports, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  }
  image.keep = image.inherit;
  image.keep.push_back(reports[1]);
  std::sort(image.keep.begin(), image.keep.end());
  const pid_t tandem = getpid();
  const pid_t shim = fork();
  if (shim == 0) run_shim(image, spec.working_dir.c_str(), out[1], reports[1], tandem);
  close(out[1]);
  close(reports[1]);
  if (shim < 0) {
    close(out[0]);
    close(reports[0]);
    throw std::runtime_error("fork: " + std::string(strerror(errno)));
  }
  // Ends when the stage has exec'd (close-on-exec) and the shim has closed its copy.
  const auto [stage, failure] = read_reports(reports[0]);
  close(reports[0]);
  if (failure || stage <= 0) {
    if (stage > 0) kill(stage, SIGKILL);
    reap(shim);
    close(out[0]);
    if (!failure) throw std::runtime_error("the launch shim for '" + spec.argv[0] + "' failed");
    throw std::runtime_error(launch_error(spec, failure->step, failure->value));
  }
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, shim, 0));
  if (pidfd < 0) {
    const int e = errno;
    kill(-stage, SIGKILL);
    reap(shim);
    close(out[0]);
    throw std::runtime_error("pidfd_open: " + std::string(strerror(e)));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(executor, stage, shim, pidfd, out[0]));
}

ChildProcess::ChildProcess(asio::any_io_executor executor, pid_t pid, pid_t shim, int pidfd,
                           int output_fd)
    : pid_(pid), shim_(shim), pidfd_(executor, pidfd), output_(executor, output_fd) {}

ChildProcess::~ChildProcess() {
  if (!status_) {
    signal(SIGKILL);
    reap(shim_);
  }
}

asio::awaitable<ExitStatus> ChildProcess::wait() {
  if (status_) co_return *status_;
  boost::system::error_code ec;
  co_await pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                             asio::redirect_error(asio::use_awaitable, ec));
  // Only a readable pidfd means the process is gone; never block the loop in waitpid.
  if (ec) throw boost::system::system_error(ec, "waiting for pid " + std::to_string(pid_));
  if (!status_) {
    int status = 0;
    pid_t r;
    do r = waitpid(shim_, &status, 0);
    while (r < 0 && errno == EINTR);
    status_ = ExitStatus{status};
  }
  co_return *status_;
}

void ChildProcess::signal(int sig) {
  if (status_) return;
  // The shim signals the stage's group and every descendant outside it. Should the queue of
  // signals be full, the group (the stage and gunicorn's workers) still gets it from here.
  union sigval value {};
  value.sival_int = sig;
  if (sigqueue(shim_, forward_signal(), value) == 0) return;
  if (killpg(pid_, sig) != 0) kill(pid_, sig);
  // A SIGKILL the shim never hears would leave it waiting on a leftover that ignores SIGTERM:
  // it goes too, so the stop ends (what the stage left outside its group then escapes).
  if (sig == SIGKILL) kill(shim_, SIGKILL);
}

}  // namespace tandem::supervisor
