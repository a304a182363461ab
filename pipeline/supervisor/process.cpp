#include "pipeline/supervisor/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace tandem::supervisor {

namespace asio = boost::asio;

bool ExitStatus::exited() const { return WIFEXITED(wait_status); }
int ExitStatus::exit_code() const { return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1; }
int ExitStatus::signal() const { return WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0; }

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

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls.
struct ExecImage {
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;

  explicit ExecImage(const LaunchSpec& spec) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string_view kv(*e);
      const auto eq = kv.find('=');
      if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : spec.env) env[k] = v;
    strings.reserve(spec.argv.size() + env.size());
    for (const auto& a : spec.argv) strings.push_back(a);
    for (const auto& [k, v] : env) strings.push_back(k + "=" + v);
    for (std::size_t i = 0; i < spec.argv.size(); ++i) argv.push_back(strings[i].data());
    argv.push_back(nullptr);
    for (std::size_t i = spec.argv.size(); i < strings.size(); ++i) envp.push_back(strings[i].data());
    envp.push_back(nullptr);
  }
};

void close_all_except(int keep) {
  if (keep > 3) close_range(3, static_cast<unsigned>(keep) - 1, 0);
  close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
}

[[noreturn]] void exec_child(const ExecImage& image, const char* working_dir, int output_fd,
                             int error_fd, pid_t parent) {
  // Die with tandem, even when it is SIGKILLed; close the race with a parent already gone.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int step = 0;
  const int devnull = open("/dev/null", O_RDONLY);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(output_fd, 1) < 0 || dup2(output_fd, 2) < 0) {
    step = 1;
  } else if (working_dir[0] != '\0' && chdir(working_dir) != 0) {
    step = 2;
  } else {
    // Nothing of tandem's (listening sockets, other stages' pipes) leaks into the stage; the
    // error pipe is close-on-exec and reports a failed exec.
    close_all_except(error_fd);
    execvpe(image.argv[0], image.argv.data(), image.envp.data());
    step = 3;
  }
  const int report[2] = {step, errno};
  [[maybe_unused]] auto n = write(error_fd, report, sizeof report);
  _exit(127);
}

std::string launch_error(const LaunchSpec& spec, int step, int err) {
  const std::string what = std::strerror(err);
  switch (step) {
    case 1: return "cannot set up the standard streams of '" + spec.argv[0] + "': " + what;
    case 2: return "cannot enter working_dir '" + spec.working_dir + "': " + what;
    default: return "cannot execute '" + spec.argv[0] + "': " + what;
  }
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::launch(asio::any_io_executor executor,
                                                   const LaunchSpec& spec) {
  if (spec.argv.empty()) throw std::runtime_error("empty command");
  ExecImage image(spec);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    exec_child(image, spec.working_dir.c_str(), out[1], err[1], parent);
  }
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    throw std::runtime_error("fork: " + std::string(strerror(errno)));
  }
  int report[2] = {0, 0};
  ssize_t n;
  do n = read(err[0], report, sizeof report);
  while (n < 0 && errno == EINTR);
  close(err[0]);
  if (n == static_cast<ssize_t>(sizeof report)) {
    int status = 0;
    waitpid(pid, &status, 0);
    close(out[0]);
    throw std::runtime_error(launch_error(spec, report[0], report[1]));
  }
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int e = errno;
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(out[0]);
    throw std::runtime_error("pidfd_open: " + std::string(strerror(e)));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(executor, pid, pidfd, out[0]));
}

ChildProcess::ChildProcess(asio::any_io_executor executor, pid_t pid, int pidfd, int output_fd)
    : pid_(pid), pidfd_(executor, pidfd), output_(executor, output_fd) {}

ChildProcess::~ChildProcess() {
  if (!status_) {
    signal(SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
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
    do r = waitpid(pid_, &status, 0);
    while (r < 0 && errno == EINTR);
    status_ = ExitStatus{status};
  }
  co_return *status_;
}

void ChildProcess::signal(int sig) {
  if (status_) return;
  // The group holds the stage and whatever it forked (gunicorn's workers).
  if (killpg(pid_, sig) != 0) kill(pid_, sig);
}

}  // namespace tandem::supervisor
