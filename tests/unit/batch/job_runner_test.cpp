// JobRunner over a scripted invoker (in the style of the chain executor's fake transports) and
// the local store: results are committed in input order whatever order the calls end in,
// retries, the in-flight bound, and stopping.
#include "pipeline/batch/job_runner.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/batch/batch_testing.h"

using namespace tandem;
using namespace tandem::batch;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

chain::InvocationResult ok(std::string body) {
  chain::InvocationResult result;
  result.body = std::move(body);
  result.content_type = "text/csv";
  return result;
}

chain::InvocationResult stage_error(int status) {
  chain::InvocationResult result;
  proto::StageFailure failure{"model", "container-2", status, "overloaded", "model.log"};
  result.error = status == 0 ? proto::Error::stage_failed(failure, "timed out")
                             : proto::Error::stage_status(failure);
  return result;
}

// Records every call and answers from its script: by default "r:" + the body. A held call
// waits until release(n).
class ScriptedInvoker final : public BatchInvoker {
 public:
  explicit ScriptedInvoker(asio::io_context& io) : io_(io) {}

  asio::awaitable<chain::InvocationResult> invoke(chain::Invocation invocation) override {
    const std::size_t n = bodies.size();
    bodies.push_back(invocation.body);
    ids.push_back(invocation.inference_id);
    held_.push_back(std::make_unique<Held>(io_));
    max_running = std::max(max_running, ++running);
    if (on_call) on_call(n);
    if (hold && hold(n) && !held_[n]->released) {
      boost::system::error_code ec;
      co_await held_[n]->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    --running;
    ended.push_back(n);
    co_return answer ? answer(n) : ok("r:" + bodies[n]);
  }

  void release(std::size_t n) {
    held_[n]->released = true;
    held_[n]->timer.cancel();
  }

  std::function<chain::InvocationResult(std::size_t n)> answer;
  std::function<bool(std::size_t n)> hold;
  std::function<void(std::size_t n)> on_call;  // on the loop, once call n is recorded
  std::vector<std::string> bodies;
  std::vector<std::string> ids;
  std::vector<std::size_t> ended;  // calls in the order they answered
  std::size_t running = 0;
  std::size_t max_running = 0;

 private:
  struct Held {
    explicit Held(asio::io_context& io) : timer(io, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool released = false;
  };
  asio::io_context& io_;
  std::vector<std::unique_ptr<Held>> held_;
};

// One CSV object of `records` lines, one record a request.
struct Job {
  testing::Folder folder;
  transform::DataProcessor processor = testing::plain_processor();
  std::vector<InputObject> inputs;
  asio::io_context io;
  ScriptedInvoker invoker{io};
  JobSettings settings;
  JobRunner* runner = nullptr;  // while run() runs
  std::vector<ObjectReport> reports;

  explicit Job(int records) {
    std::string data;
    for (int i = 0; i < records; ++i) data += std::to_string(i) + "\n";
    inputs.push_back(folder.input("a.csv", data));
    settings.read.split_type = transform::SplitType::line;
    settings.read.batch_strategy = transform::BatchStrategy::single_record;
    settings.read.payload_limit = 1024 * 1024;
    settings.read.reading = transform::plan_reading(
        settings.read.payload_limit, settings.read.batch_strategy, settings.read.split_type, false);
    settings.read.processor = &processor;
    settings.commit = {folder.out.get(), &processor, std::string("text/csv"),
                       transform::AssembleWith::none};
    settings.job_name = "job";
    settings.backoff = [](int) { return 0ms; };
  }

  // Runs the job to its end, and until its calls have ended.
  void run() {
    JobRunner job(io, settings, inputs, invoker);
    runner = &job;
    bool ended = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          job.start();
          co_await job.finish();
          co_await job.calls_ended();
          ended = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run_for(30s);
    REQUIRE(ended);
    reports = job.reports();
    runner = nullptr;
  }
};

}  // namespace

TEST_CASE("results are committed in input order when the calls end in reverse") {
  Job job(3);
  job.settings.max_in_flight = 3;
  job.invoker.hold = [](std::size_t) { return true; };
  // Each answer gets its own moment (a writer that took answers as they came would write
  // it first); a correct writer waits for record 0 however long that takes.
  job.invoker.on_call = [&](std::size_t n) {
    if (n != 2) return;
    asio::co_spawn(
        job.io,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer moment(job.io);
          for (std::size_t i = 3; i-- > 0;) {
            job.invoker.release(i);
            moment.expires_after(20ms);
            co_await moment.async_wait(asio::use_awaitable);
          }
        },
        asio::detached);
  };
  job.run();
  CHECK(job.invoker.ended == std::vector<std::size_t>{2, 1, 0});
  CHECK(job.folder.read("a.csv.out") == "r:0\nr:1\nr:2\n");
  CHECK(job.invoker.ids == std::vector<std::string>{"job-0-0", "job-0-1", "job-0-2"});
  REQUIRE(job.reports.size() == 1);
  CHECK(job.reports[0].status == ObjectStatus::completed);
  CHECK(job.reports[0].requests == 3);
  CHECK(job.reports[0].records == 3);
}

TEST_CASE("a retryable error is retried up to InvocationsMaxRetries times") {
  Job job(1);
  job.settings.max_retries = 2;
  job.invoker.answer = [](std::size_t n) { return n < 2 ? stage_error(503) : ok("done\n"); };
  job.run();
  CHECK(job.invoker.bodies == std::vector<std::string>{"0\n", "0\n", "0\n"});
  CHECK(job.folder.read("a.csv.out") == "done\n");
  CHECK(job.reports[0].requests == 1);
}

TEST_CASE("an object fails once its retries are spent, naming the attempts") {
  Job job(1);
  job.settings.max_retries = 1;
  job.invoker.answer = [](std::size_t) { return stage_error(0); };
  job.run();
  CHECK(job.invoker.bodies.size() == 2);
  CHECK_FALSE(job.folder.exists("a.csv.out"));
  const auto line = nlohmann::json::parse(job.folder.read("a.csv.out.errors"));
  CHECK(line["attempts"] == 2);
  CHECK(line["error"] == "ModelError");
  REQUIRE(job.reports[0].failure);
  CHECK(job.reports[0].failure->attempts == 2);
}

TEST_CASE("a stage's 4xx is not retried") {
  Job job(1);
  job.settings.max_retries = 3;
  job.invoker.answer = [](std::size_t) { return stage_error(400); };
  job.run();
  CHECK(job.invoker.bodies.size() == 1);
  CHECK(job.reports[0].status == ObjectStatus::failed);
}

TEST_CASE("at most MaxConcurrentTransforms calls run at once") {
  constexpr int kRecords = 40;
  Job job(kRecords);
  job.settings.max_in_flight = 3;
  job.invoker.hold = [](std::size_t) { return true; };
  // The oldest held call ends only once the bound is reached (or the input is all sent).
  std::size_t oldest = 0;
  job.invoker.on_call = [&](std::size_t n) {
    if (n + 1 == kRecords) {
      while (oldest < kRecords) job.invoker.release(oldest++);
    } else if (job.invoker.running >= 3) {
      job.invoker.release(oldest++);
    }
  };
  job.run();
  CHECK(job.invoker.max_running == 3);
  CHECK(job.invoker.bodies.size() == kRecords);
  CHECK(job.reports[0].status == ObjectStatus::completed);
}

TEST_CASE("stop() discards the unfinished output and leaves nothing behind") {
  Job job(3);
  job.invoker.hold = [](std::size_t n) { return n == 1; };
  job.invoker.on_call = [&](std::size_t n) {
    if (n != 1) return;
    // The first answer is written (to a temporary file) before the second call starts.
    job.runner->stop();
    job.invoker.release(1);
  };
  job.run();
  CHECK(job.invoker.bodies.size() == 2);
  CHECK(job.folder.outputs().empty());
  CHECK(job.reports[0].status == ObjectStatus::not_processed);
}
