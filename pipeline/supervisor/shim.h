// The launch shim's side of starting a stage: everything that runs in the forked processes
// (the shim that contains the stage, and the stage up to its exec), and the launch pipe on
// which they report the stage's pid or the step that failed. After fork only
// async-signal-safe calls run, so the parent prepares an ExecImage first. ChildProcess
// (process.h) is the parent's side.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/supervisor/process.h"

namespace tandem::supervisor::shim {

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

  explicit ExecImage(const LaunchSpec& spec);
};

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

// Runs in the forked shim: starts the stage and contains it until it and everything it started
// are gone, then exits the way the stage did (see shim.cpp).
[[noreturn]] void run_shim(const ExecImage& image, const char* working_dir, int output_fd,
                           int report_fd, pid_t tandem);

// The queued real-time signal by which tandem asks the shim to signal the stage; its value is
// the signal to send.
int forward_signal();

// Reads the launch pipe to its end: the stage's pid, or why it could not start.
std::pair<pid_t, std::optional<LaunchReport>> read_reports(int fd);

// A failed launch step in words, naming the program, working_dir or model folder.
std::string launch_error(const LaunchSpec& spec, int step, int err);

}  // namespace tandem::supervisor::shim
