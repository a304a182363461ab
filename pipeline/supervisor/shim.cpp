#include "pipeline/supervisor/shim.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "pipeline/supervisor/process_tree.h"

extern char** environ;

namespace tandem::supervisor::shim {

ExecImage::ExecImage(const LaunchSpec& spec) {
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
  for (std::size_t i = spec.argv.size(); i < strings.size(); ++i) envp.push_back(strings[i].data());
  envp.push_back(nullptr);
}

// How tandem asks the shim to signal the stage: a queued real-time signal whose value is the
// signal to send (queued, so a SIGKILL right after a SIGTERM is never merged into it).
int forward_signal() {
  return SIGRTMIN;
}

namespace {

// `keep` is sorted and holds no standard stream.
void close_all_except(const std::vector<int>& keep) {
  unsigned next = 3;
  for (const int fd : keep) {
    if (static_cast<unsigned>(fd) > next) close_range(next, static_cast<unsigned>(fd) - 1, 0);
    next = static_cast<unsigned>(fd) + 1;
  }
  close_range(next, ~0U, 0);
}

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

}  // namespace

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

}  // namespace tandem::supervisor::shim
