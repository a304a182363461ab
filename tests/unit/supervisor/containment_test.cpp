// A stage's descendants that leave its session and process group (setsid, daemons) are found
// and stopped with it: by signal(), by the stage's own exit and by ChildProcess's destructor.
// Every wait is bounded by io_context::run_for.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/supervisor/process.h"
#include "pipeline/supervisor/process_tree.h"

namespace tandem::supervisor {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Gone for good: not even a zombie. The shim reaps what it kills before it exits, so this
// holds the moment wait() completes.
bool gone(pid_t pid) {
  return kill(pid, 0) != 0 && errno == ESRCH;
}

// The first line the stage prints: the pid of the descendant it started.
pid_t first_line_pid(asio::io_context& io, ChildProcess& child) {
  std::string line;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        boost::system::error_code ec;
        co_await asio::async_read_until(child.output(), asio::dynamic_buffer(line), '\n',
                                        asio::redirect_error(asio::use_awaitable, ec));
      },
      [](std::exception_ptr) {});
  io.run_for(10s);
  io.restart();
  REQUIRE(line.size() > 1);
  return std::stoi(line);
}

std::string comm_of(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  return std::string((std::istreambuf_iterator<char>(comm)), std::istreambuf_iterator<char>());
}

std::optional<ExitStatus> wait_for(asio::io_context& io, ChildProcess& child,
                                   std::chrono::milliseconds limit) {
  std::optional<ExitStatus> status;
  asio::co_spawn(io, child.wait(), [&](std::exception_ptr, ExitStatus s) { status = s; });
  io.run_for(limit);
  io.restart();
  return status;
}

// `setsid` (util-linux) in a background job of the shell: not a group leader, it calls
// setsid() itself and execs the program, so $! is the pid of a process in a new session.
const char* const escaped_sleep = "setsid sleep 300 & echo $!; wait";

TEST_CASE("signal(SIGTERM) reaches a descendant in another session", "[process][containment]") {
  asio::io_context io;
  auto child = ChildProcess::launch(io.get_executor(), {{"/bin/sh", "-c", escaped_sleep}, "", {}});
  const pid_t escaped = first_line_pid(io, *child);
  // $! is known before the background job has run setsid: poll (bounded) until it has.
  for (int i = 0; i < 500 && getsid(escaped) != escaped; ++i) usleep(10'000);
  REQUIRE(getsid(escaped) == escaped);  // a session of its own: the group kill misses it
  REQUIRE(getpgid(escaped) != child->pid());
  child->signal(SIGTERM);
  const auto status = wait_for(io, *child, 10s);
  REQUIRE(status.has_value());
  CHECK(status->describe() == "was killed by signal 15 (SIGTERM)");
  CHECK(gone(escaped));
}

TEST_CASE("the stage's own exit ends the daemon it left, and its status is reported",
          "[process][containment]") {
  asio::io_context io;
  // The classic daemon: fork, setsid, fork again; the middle process exits at once, so the
  // daemon is orphaned before the stage itself exits with 3.
  auto child = ChildProcess::launch(
      io.get_executor(), {{"/bin/sh", "-c", "setsid sh -c 'sleep 300 & echo $!'; exit 3"}, "", {}});
  const pid_t daemon = first_line_pid(io, *child);
  const auto status = wait_for(io, *child, 10s);
  REQUIRE(status.has_value());
  CHECK(status->describe() == "exited with status 3");
  CHECK(gone(daemon));
}

TEST_CASE("after SIGTERM a leftover that ignores it keeps the stage until SIGKILL",
          "[process][containment]") {
  asio::io_context io;
  // SIG_IGN survives exec: the escaped sleep ignores SIGTERM.
  auto child = ChildProcess::launch(
      io.get_executor(),
      {{"/bin/sh", "-c", R"(setsid sh -c 'trap "" TERM; exec sleep 300' & echo $!; wait)"},
       "",
       {}});
  const pid_t stubborn = first_line_pid(io, *child);
  // $! is known before the job has set SIGTERM aside: poll (bounded) until it runs sleep.
  for (int i = 0; i < 500 && comm_of(stubborn) != "sleep\n"; ++i) usleep(10'000);
  REQUIRE(comm_of(stubborn) == "sleep\n");
  child->signal(SIGTERM);
  // The stage is gone at once; the shim waits for what it left, which had the same SIGTERM.
  CHECK_FALSE(wait_for(io, *child, 300ms).has_value());
  CHECK_FALSE(gone(stubborn));
  child->signal(SIGKILL);
  const auto status = wait_for(io, *child, 10s);
  REQUIRE(status.has_value());
  CHECK(status->describe() == "was killed by signal 15 (SIGTERM)");  // the stage's own end
  CHECK(gone(stubborn));
}

TEST_CASE("destroying a running ChildProcess kills its escaped descendants too",
          "[process][containment]") {
  asio::io_context io;
  auto child = ChildProcess::launch(io.get_executor(), {{"/bin/sh", "-c", escaped_sleep}, "", {}});
  const pid_t escaped = first_line_pid(io, *child);
  REQUIRE_FALSE(gone(escaped));
  child.reset();
  CHECK(gone(escaped));
}

TEST_CASE("parse_stat reads the state, parent and group after a name with ') ' in it",
          "[process_tree]") {
  using process_tree::parse_stat;
  process_tree::StatFields f;
  const std::string plain = "42 (sleep) S 7 42 42 0 -1 4194304";
  REQUIRE(parse_stat(plain.data(), plain.size(), f));
  CHECK(f.state == 'S');
  CHECK(f.ppid == 7);
  CHECK(f.pgid == 42);
  const std::string tricky = "9 (a) R 1 2 (b) Z 31 17 0";
  REQUIRE(parse_stat(tricky.data(), tricky.size(), f));
  CHECK(f.state == 'Z');
  CHECK(f.ppid == 31);
  CHECK(f.pgid == 17);
  for (const std::string_view cut :
       {"42 (sleep) S 7 4", "42 (sleep) S 7", "42 (sleep", "", "42 (x) S x 1 "})
    CHECK_FALSE(parse_stat(cut.data(), cut.size(), f));
}

TEST_CASE("signal_descendants reaches grandchildren in other sessions, and skips a group",
          "[process_tree]") {
  // As in the shim: a grandchild whose parent dies first re-parents to this process.
  REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // a group of its own, and a grandchild in a session of its own
    setpgid(0, 0);
    if (fork() == 0) {
      setsid();
      [[maybe_unused]] auto n = write(ready[1], "g", 1);
      for (;;) pause();
    }
    [[maybe_unused]] auto n = write(ready[1], "c", 1);
    for (;;) pause();
  }
  close(ready[1]);
  char seen[2];
  REQUIRE(read(ready[0], seen, 1) == 1);
  REQUIRE(read(ready[0], seen + 1, 1) == 1);
  close(ready[0]);
  // The child's group is skipped: only the grandchild is signalled (with 0, a check only).
  CHECK(process_tree::signal_descendants(0, child) == 1);
  CHECK(process_tree::signal_descendants(0, 0) == 2);
  CHECK(process_tree::signal_descendants(SIGKILL, 0) == 2);
  // Both end up this process's children: reap them (polling, bounded).
  int killed = 0, reaped = 0;
  for (int i = 0; i < 500 && reaped < 2; ++i) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      ++reaped;
      if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++killed;
    } else {
      usleep(10'000);
    }
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  CHECK(killed == 2);
}

}  // namespace
}  // namespace tandem::supervisor
