// The real launcher's StageProcess with real programs: its output line by line as the
// supervisor logs it (the pieces of an over-long line, an unterminated last line), its end.
#include "pipeline/supervisor/launcher.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <string>
#include <vector>

namespace tandem::supervisor {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Run {
  std::vector<std::string> lines;
  ExitStatus status;
};

asio::awaitable<Run> read_all(std::shared_ptr<StageProcess> process) {
  Run run;
  while (auto line = co_await process->read_line()) run.lines.push_back(std::move(*line));
  run.status = co_await process->wait();
  co_return run;
}

// Runs `script` with /bin/sh to its end (at most 10 s).
Run run_shell(const std::string& script) {
  asio::io_context io;
  LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.program = "/bin/sh";
  auto launched = make_process_launcher(io.get_executor())->launch(spec);
  REQUIRE(launched);
  std::optional<Run> run;
  std::exception_ptr error;
  asio::co_spawn(io, read_all(*launched), [&](std::exception_ptr e, Run r) {
    error = e;
    run = std::move(r);
  });
  io.run_for(10s);
  if (error) std::rethrow_exception(error);
  REQUIRE(run);
  return *run;
}

TEST_CASE("a launched stage's output comes line by line, its last line unterminated") {
  const Run run = run_shell("printf 'one\\ntwo\\r\\n\\nlast'; exit 3");
  CHECK(run.lines == std::vector<std::string>{"one", "two\r", "", "last"});
  CHECK(run.status.exit_code() == 3);
}

TEST_CASE("a line longer than 16 KiB comes in pieces") {
  const Run run = run_shell("head -c 20000 /dev/zero | tr '\\0' x; echo; echo next");
  REQUIRE(run.lines.size() == 3);
  CHECK(run.lines[0] == std::string(16 * 1024, 'x'));
  CHECK(run.lines[1] == std::string(20000 - 16 * 1024, 'x'));
  CHECK(run.lines[2] == "next");
}

TEST_CASE("a program that cannot be started is a launch error naming it") {
  asio::io_context io;
  LaunchSpec spec;
  spec.argv = {"/nonexistent/tandem-stage"};
  spec.program = "/nonexistent/tandem-stage";
  auto launched = make_process_launcher(io.get_executor())->launch(spec);
  REQUIRE_FALSE(launched);
  CHECK_THAT(launched.error(), Catch::Contains("/nonexistent/tandem-stage"));
}

}  // namespace
}  // namespace tandem::supervisor
