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

#include "pipeline/supervisor/process_tree.h"

extern char** environ;

namespace tandem::supervisor {

namespace asio = boost::asio;

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

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls.
struct ExecImage {
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* mount_source = nullptr;
  const char* program = nullptr;  // LaunchSpec::program; nullptr: argv[0] on PATH
  std::string uid_map, gid_map;   // for an unprivileged user namespace: ourselves as root
  std::vector<int> inherit;       // descriptors the stage keeps (LaunchSpec::inherit)
  std::vector<int> keep;          // those and the launch report pipe, sorted

  explicit ExecImage(const LaunchSpec& spec) {
    for (const auto& fd : spec.inherit) inherit.push_back(fd.get());
    if (!spec.program.empty()) program = spec.program.c_str();
    if (spec.model_mount_source) {
      mount_source = spec.model_mount_source->c_str();
      uid_map = "0 " + std::to_string(getuid()) + " 1";
      gid_map = "0 " + std::to_string(getgid()) + " 1";
    }
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
    for (std::size_t i = spec.argv.size(); i < strings.size(); ++i)
      envp.push_back(strings[i].data());
    envp.push_back(nullptr);
  }
};

// `keep` is sorted and holds no standard stream.
void close_all_except(const std::vector<int>& keep) {
  unsigned next = 3;
  for (const int fd : keep) {
    if (static_cast<unsigned>(fd) > next) close_range(next, static_cast<unsigned>(fd) - 1, 0);
    next = static_cast<unsigned>(fd) + 1;
  }
  close_range(next, ~0U, 0);
}

// Messages on the launch pipe, written by the child side (async-signal-safe writes only).
struct LaunchReport {
  int kind =
      0;  // 1: the stage's pid is `value`; 2: setting up failed at `step` with `value` = errno
  int step = 0;
  int value = 0;
};
enum : int { report_pid = 1, report_failure = 2 };
enum : int {
  step_streams = 1,
  step_chdir = 2,
  step_exec = 3,
  step_fork = 4,
  step_unshare = 5,
  step_mount = 6
};

void send(int fd, LaunchReport report) {
  [[maybe_unused]] auto n = write(fd, &report, sizeof report);
}

bool write_file(const char* path, const std::string& text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// A private mount namespace (as root, or inside a new user namespace mapping us to root
// where unprivileged user namespaces are allowed) with the model folder at /opt/ml/model.
int mount_model_dir(const ExecImage& image) {
  if (unshare(CLONE_NEWNS) != 0) {
    if (errno != EPERM) return step_unshare;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return step_unshare;
    if (!write_file("/proc/self/setgroups", "deny") ||
        !write_file("/proc/self/uid_map", image.uid_map) ||
        !write_file("/proc/self/gid_map", image.gid_map)) {
      return step_unshare;
    }
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return step_mount;
  if (mount(image.mount_source, model_mount_point, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return step_mount;
  }
  return 0;
}

[[noreturn]] void exec_stage(const ExecImage& image, const char* working_dir, int output_fd,
                             int error_fd, pid_t parent) {
  // The channel descriptors the stage inherits: close-on-exec off, for them alone.
  for (const int fd : image.inherit) fcntl(fd, F_SETFD, 0);
  // The stage dies with its shim, so it dies with tandem too.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int step = image.mount_source ? mount_model_dir(image) : 0;
  const int devnull = open("/dev/null", O_RDONLY);
  if (step != 0) {
    // the namespace could not be set up: report it below, exec nothing
  } else if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(output_fd, 1) < 0 ||
             dup2(output_fd, 2) < 0) {
    step = step_streams;
  } else if (working_dir[0] != '\0' && chdir(working_dir) != 0) {
    step = step_chdir;
  } else {
    // Nothing of tandem's (listening sockets, other stages' pipes) leaks into the stage; the
    // report pipe is close-on-exec and tells of a failed exec.
    close_all_except(image.keep);
    if (image.program) {
      execve(image.program, image.argv.data(), image.envp.data());
    } else {
      execvpe(image.argv[0], image.argv.data(), image.envp.data());
    }
    step = step_exec;
  }
  send(error_fd, {report_failure, step, errno});
  _exit(127);
}

void set_disposition(int sig, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigaction(sig, &action, nullptr);
}

// Mirrors the stage's end as the shim's own, so tandem sees the stage's exit status.
[[noreturn]] void exit_like(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    set_disposition(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

// How tandem asks the shim to signal the stage: a queued real-time signal whose value is the
// signal to send (queued, so a SIGKILL right after a SIGTERM is never merged into it).
int forward_signal() {
  return SIGRTMIN;
}

struct StageEnd {
  bool reaped = false;
  int status = 0;
};

// Reaps every child of the shim that has exited: the stage, and the descendants re-parented
// to the shim. With `block`, first waits for one. False when the shim has no child left.
bool reap_children(pid_t stage, StageEnd& end, bool block) {
  for (;;) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid == 0) return true;
    if (pid < 0) {
      if (errno == EINTR) continue;
      return errno != ECHILD;
    }
    if (pid == stage) end = {true, status};
    block = false;
  }
}

// Kills the stage and every descendant it left, and reaps them all: a descendant missed by
// one walk (forked meanwhile) re-parents to the shim when its parent dies, and the next walk
// finds it. Bounded: a descendant that cannot be killed (another user's setuid program, a
// process in uninterruptible sleep) must not keep the shim, and tandem's stop or restart of
// the stage, waiting for ever; after kKillAllSeconds the shim gives up on it.
constexpr time_t kKillAllSeconds = 5;
void kill_all(pid_t stage, StageEnd& end) {
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  for (;;) {
    if (!end.reaped) kill(-stage, SIGKILL);
    process_tree::signal_descendants(SIGKILL, 0);
    if (!reap_children(stage, end, false)) return;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= kKillAllSeconds) return;
    timespec wait{0, 100'000'000};  // until a child exits, or 100 ms
    sigtimedwait(&child, nullptr, &wait);
  }
}

// The shim's end once kill_all has run: the stage's own, or a SIGKILL's if it was never
// reaped.
[[noreturn]] void exit_after_kill_all(const StageEnd& end) {
  if (!end.reaped) _exit(128 + SIGKILL);
  exit_like(end.status);
}

// The shim sits between tandem and a stage and contains it. PR_SET_PDEATHSIG reaches only a
// direct child, so a stage's own children (gunicorn's workers) would outlive a SIGKILLed
// tandem; and a descendant that calls setsid leaves the stage's process group, so a group
// kill misses it. The shim is the child subreaper of the stage's whole tree: every orphaned
// descendant re-parents to it. It signals the stage's group and every other descendant when
// tandem asks, kills them all when tandem dies or when the stage exits (a restarted stage
// must not find its predecessor's daemons on its port or GPU), and exits the way the stage
// did once none is left.
[[noreturn]] void run_shim(const ExecImage& image, const char* working_dir, int output_fd,
                           int report_fd, pid_t tandem) {
  constexpr int tandem_died = SIGUSR1;
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  sigaddset(&wanted, tandem_died);
  sigaddset(&wanted, forward_signal());
  sigprocmask(SIG_BLOCK, &wanted, nullptr);
  prctl(PR_SET_PDEATHSIG, tandem_died);
  if (getppid() != tandem) _exit(127);
  // Without it (Linux before 3.4) the group kill alone remains.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Terminal signals reach tandem's process group, the shim's too: tandem decides when
  // stages stop, so the shim ignores them (the stage resets every disposition).
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) set_disposition(sig, SIG_IGN);
  const pid_t shim = getpid();
  const pid_t stage = fork();
  if (stage == 0) exec_stage(image, working_dir, output_fd, report_fd, shim);
  if (stage < 0) {
    send(report_fd, {report_failure, step_fork, errno});
    _exit(127);
  }
  send(report_fd, {report_pid, 0, stage});
  close_range(3, ~0U, 0);
  StageEnd end;
  bool stopping = false;  // tandem sent a signal: the stage's leftovers had it too
  for (;;) {
    siginfo_t info;
    if (sigwaitinfo(&wanted, &info) < 0) continue;
    if (info.si_signo == tandem_died) {
      if (getppid() == tandem) continue;  // not the kernel's word: tandem still runs
      kill_all(stage, end);
      _exit(137);
    }
    if (info.si_signo == forward_signal()) {
      if (info.si_code != SI_QUEUE || info.si_pid != tandem) continue;
      const int sig = info.si_value.sival_int;
      if (sig == SIGKILL) {
        kill_all(stage, end);
        exit_after_kill_all(end);
      }
      // The group at once (a process forking now cannot slip by), then everyone outside it.
      if (!end.reaped) kill(-stage, sig);
      process_tree::signal_descendants(sig, end.reaped ? 0 : stage);
      stopping = true;
      continue;
    }
    const bool children_left = reap_children(stage, end, false);
    if (!end.reaped) continue;
    if (!children_left) exit_like(end.status);
    if (!stopping) {
      kill_all(stage, end);
      exit_after_kill_all(end);
    }
    // Stopping: the stage's leftovers got the same signal and the same grace; tandem's
    // SIGKILL at the end of stage_stop_timeout_s ends the wait.
  }
}

std::string launch_error(const LaunchSpec& spec, int step, int err) {
  const std::string what = std::strerror(err);
  switch (step) {
    case step_streams:
      return "cannot set up the standard streams of '" + spec.argv[0] + "': " + what;
    case step_chdir:
      return "cannot enter working_dir '" + spec.working_dir + "': " + what;
    case step_fork:
      return "cannot fork for '" + spec.argv[0] + "': " + what;
    case step_unshare:
      return "mount_model_dir: cannot create a mount namespace (needs root, or unprivileged "
             "user namespaces enabled in the kernel): " +
             what;
    case step_mount:
      return "mount_model_dir: cannot bind-mount '" + spec.model_mount_source.value_or("") +
             "' at " + model_mount_point + ": " + what;
    default:
      return "cannot execute '" + spec.argv[0] + "': " + what;
  }
}

// Reads the launch pipe to its end: the stage's pid, or why it could not start.
std::pair<pid_t, std::optional<LaunchReport>> read_reports(int fd) {
  pid_t stage = -1;
  std::optional<LaunchReport> failure;
  for (;;) {
    LaunchReport report;
    ssize_t n;
    do n = read(fd, &report, sizeof report);
    while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof report)) break;
    if (report.kind == report_pid) stage = report.value;
    if (report.kind == report_failure) failure = report;
  }
  return {stage, failure};
}

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
