// ChildProcess with real programs: output, exit status, launch errors, environment, signals.
// Every wait is bounded by io_context::run_for, so a broken child cannot hang the suite.
#include "pipeline/supervisor/process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>

namespace tandem::supervisor {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Finished {
  std::string output;
  ExitStatus status;
};

// Reads the child's output to EOF, then waits for its exit.
asio::awaitable<Finished> collect(ChildProcess& child) {
  Finished f;
  boost::system::error_code ec;
  co_await asio::async_read(child.output(), asio::dynamic_buffer(f.output),
                            asio::redirect_error(asio::use_awaitable, ec));
  f.status = co_await child.wait();
  co_return f;
}

// Launches `argv` and runs it to completion (at most 10 s).
Finished run(const LaunchSpec& spec) {
  asio::io_context io;
  auto child = ChildProcess::launch(io.get_executor(), spec);
  std::optional<Finished> result;
  std::exception_ptr error;
  asio::co_spawn(io, collect(*child), [&](std::exception_ptr e, Finished f) {
    error = e;
    result = std::move(f);
  });
  io.run_for(10s);
  if (error) std::rethrow_exception(error);
  REQUIRE(result.has_value());
  return *result;
}

// True when `pid` no longer runs: no such process, or a zombie.
bool is_dead(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

std::string launch_error(const LaunchSpec& spec) {
  asio::io_context io;
  try {
    ChildProcess::launch(io.get_executor(), spec);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("launch did not throw");
  return {};
}

TEST_CASE("a child's output is read and its exit status observed", "[process]") {
  const Finished f = run({{"/bin/sh", "-c", "echo hi; exit 3"}, "", {}});
  CHECK(f.output == "hi\n");
  CHECK(f.status.exited());
  CHECK(f.status.exit_code() == 3);
  CHECK(f.status.signal() == 0);
  CHECK(f.status.describe() == "exited with status 3");
}

TEST_CASE("stdout and stderr are merged into one pipe", "[process]") {
  const Finished f = run({{"/bin/sh", "-c", "echo out; echo err >&2; echo out2"}, "", {}});
  CHECK(f.output == "out\nerr\nout2\n");
  CHECK(f.status.describe() == "exited with status 0");
}

TEST_CASE("the program is found on PATH and gets argv verbatim, without a shell", "[process]") {
  const Finished f = run({{"printf", "%s|", "a b", "$HOME", "*"}, "", {}});
  CHECK(f.output == "a b|$HOME|*|");
  CHECK(f.status.exit_code() == 0);
}

TEST_CASE("a resolved program is executed with argv[0] as the spec wrote it", "[process]") {
  LaunchSpec spec{{"tandem-renamed", "-c", "printf '%s' \"$0\""}, "", {}};
  spec.program = "/bin/sh";
  const Finished f = run(spec);
  CHECK(f.output == "tandem-renamed");
  CHECK(f.status.exit_code() == 0);
}

TEST_CASE("the environment is tandem's plus the spec's, the spec winning", "[process]") {
  REQUIRE(setenv("TANDEM_PROCESS_TEST_INHERITED", "from-parent", 1) == 0);
  REQUIRE(setenv("TANDEM_PROCESS_TEST_OVERRIDDEN", "from-parent", 1) == 0);
  const Finished f =
      run({{"/bin/sh", "-c",
            "printf '%s|%s|%s' \"$TANDEM_PROCESS_TEST_INHERITED\" "
            "\"$TANDEM_PROCESS_TEST_OVERRIDDEN\" \"$SAGEMAKER_BIND_TO_PORT\""},
           "",
           {{"TANDEM_PROCESS_TEST_OVERRIDDEN", "from-spec"}, {"SAGEMAKER_BIND_TO_PORT", "9123"}}});
  unsetenv("TANDEM_PROCESS_TEST_INHERITED");
  unsetenv("TANDEM_PROCESS_TEST_OVERRIDDEN");
  CHECK(f.output == "from-parent|from-spec|9123");
}

TEST_CASE("the child runs in working_dir", "[process]") {
  const Finished f = run({{"/bin/sh", "-c", "pwd"}, "/usr/bin", {}});
  CHECK(f.output == "/usr/bin\n");
}

TEST_CASE("stdin is /dev/null", "[process]") {
  const Finished f = run({{"/bin/sh", "-c", "cat; echo end"}, "", {}});
  CHECK(f.output == "end\n");
}

TEST_CASE("tandem's own file descriptors do not leak into the child", "[process]") {
  const int fd = open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(fd > 2);
  const auto path = "/proc/self/fd/" + std::to_string(fd);
  const Finished f =
      run({{"/bin/sh", "-c", "if [ -e " + path + " ]; then echo leaked; else echo closed; fi"},
           "",
           {}});
  close(fd);
  CHECK(f.output == "closed\n");
}

TEST_CASE("launch errors name the program and the reason", "[process]") {
  CHECK(launch_error({{"nope-tandem-no-such-program"}, "", {}}) ==
        "cannot execute 'nope-tandem-no-such-program': No such file or directory");
  CHECK(launch_error({{"/nonexistent/tandem/prog"}, "", {}}) ==
        "cannot execute '/nonexistent/tandem/prog': No such file or directory");
  CHECK(launch_error({{"/bin/sh", "-c", "true"}, "/nonexistent/tandem-dir", {}}) ==
        "cannot enter working_dir '/nonexistent/tandem-dir': No such file or directory");
  CHECK(launch_error({{}, "", {}}) == "empty command");
}

TEST_CASE("a file without execute permission cannot be launched", "[process]") {
  // execve needs an execute bit even for root, so this holds for every user.
  char path[] = "/tmp/tandem-process-test-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "#!/bin/sh\necho hi\n", 18) == 18);
  close(fd);
  REQUIRE(chmod(path, 0644) == 0);
  const std::string error = launch_error({{path}, "", {}});
  unlink(path);
  CHECK(error == "cannot execute '" + std::string(path) + "': Permission denied");
}

TEST_CASE("signal(SIGTERM) kills the child and describe() names the signal", "[process]") {
  asio::io_context io;
  auto child = ChildProcess::launch(io.get_executor(), {{"sleep", "30"}, "", {}});
  CHECK_FALSE(child->exit_status().has_value());
  child->signal(SIGTERM);
  std::optional<ExitStatus> status;
  asio::co_spawn(io, child->wait(), [&](std::exception_ptr, ExitStatus s) { status = s; });
  io.run_for(10s);
  REQUIRE(status.has_value());
  CHECK_FALSE(status->exited());
  CHECK(status->signal() == SIGTERM);
  CHECK(status->exit_code() == -1);
  CHECK(status->describe() == "was killed by signal 15 (SIGTERM)");
  REQUIRE(child->exit_status().has_value());
  CHECK(child->exit_status()->signal() == SIGTERM);

  child->signal(SIGKILL);  // reaped: a no-op, the status stays
  CHECK(child->exit_status()->describe() == "was killed by signal 15 (SIGTERM)");
}

TEST_CASE("the signal reaches the child's own children (its process group)", "[process]") {
  asio::io_context io;
  // The shell forks sleep and waits for it; SIGTERM to the shell alone would leave it.
  auto child = ChildProcess::launch(io.get_executor(),
                                    {{"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, "", {}});
  std::string line;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        boost::system::error_code ec;
        co_await asio::async_read_until(child->output(), asio::dynamic_buffer(line), '\n',
                                        asio::redirect_error(asio::use_awaitable, ec));
      },
      [](std::exception_ptr) {});
  io.run_for(10s);
  io.restart();
  REQUIRE(line.size() > 1);
  const pid_t grandchild = std::stoi(line);
  child->signal(SIGTERM);
  std::optional<ExitStatus> status;
  asio::co_spawn(io, child->wait(), [&](std::exception_ptr, ExitStatus s) { status = s; });
  io.run_for(10s);
  REQUIRE(status.has_value());
  // The grandchild is not ours to reap; poll (bounded) until it is dead: gone, or a zombie
  // left for whichever process inherited it.
  bool dead = false;
  for (int i = 0; i < 500 && !dead; ++i) {
    dead = is_dead(grandchild);
    if (!dead) usleep(10'000);
  }
  CHECK(dead);
}

TEST_CASE("destroying a running ChildProcess kills and reaps it", "[process]") {
  asio::io_context io;
  auto child = ChildProcess::launch(io.get_executor(), {{"sleep", "30"}, "", {}});
  const pid_t pid = child->pid();
  REQUIRE(kill(pid, 0) == 0);
  child.reset();
  errno = 0;
  CHECK(kill(pid, 0) == -1);
  CHECK(errno == ESRCH);
}

}  // namespace
}  // namespace tandem::supervisor
