// ChainExecutor over fake transports: what each stage is sent, what the client gets back,
// and how every failure is attributed to its stage (contract section 2). Deadlines and the
// in-flight bound are in executor_limits_test.cpp.
#include "pipeline/chain/executor.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tandem::chain {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Opt = std::optional<std::string>;
using namespace std::chrono_literals;
using Kind = TransportFailure::Kind;

struct Call {
  std::size_t stage;
  std::string body;
  HopHeaders headers;
};

StageOutcome answer(int status, std::string body, std::string content_type, Opt custom = {}) {
  return StageResponse{status, std::move(body), std::move(content_type), std::move(custom)};
}

StageOutcome failure(Kind kind, std::string message) {
  return TransportFailure{kind, std::move(message)};
}

class FakeHealth : public StageHealth {
 public:
  std::optional<std::string> unavailable(std::size_t stage) const override {
    const auto it = down.find(stage);
    return it == down.end() ? std::nullopt : Opt(it->second);
  }
  std::map<std::size_t, std::string> down;
};

// Records every request into the shared `calls` and answers from its script, in order.
class FakeTransport : public StageTransport {
 public:
  FakeTransport(std::size_t stage, std::vector<Call>& calls, std::vector<StageOutcome> script)
      : stage_(stage), calls_(calls), script_(std::move(script)) {}

  asio::awaitable<StageOutcome> call(StageRequest request) override {
    calls_.push_back({stage_, std::string(request.body), request.headers});
    if (during_call) during_call();
    if (next_ == script_.size()) co_return failure(Kind::protocol, "unscripted call");
    co_return script_[next_++];
  }
  void reset(std::uint16_t port) override { resets.push_back(port); }

  std::function<void()> during_call;
  std::vector<std::uint16_t> resets;

 private:
  std::size_t stage_;
  std::vector<Call>& calls_;
  std::vector<StageOutcome> script_;
  std::size_t next_ = 0;
};

spec::StageSpec stage(std::string name, int position) {
  spec::StageSpec s;
  s.name = std::move(name);
  s.container = "container-" + std::to_string(position);
  s.command = {"tandem-identity"};
  s.timeout = 2s;
  return s;
}

Invocation client_request() {
  Invocation inv;
  inv.body = "1,2,3";
  inv.content_type = "text/csv";
  inv.accept = "application/json";
  inv.custom_attributes = "trace=abc";
  inv.inference_id = "req-7";
  return inv;
}

// A three-stage pipeline 'churn' (featurize, model, postprocess) over fakes.
struct Harness {
  asio::io_context io;
  spec::PipelineSpec spec;
  FakeHealth health;
  std::vector<Call> calls;
  std::vector<FakeTransport*> fakes;
  std::unique_ptr<ChainExecutor> executor;

  Harness() {
    spec.name = "churn";
    spec.stages = {stage("featurize", 1), stage("model", 2), stage("postprocess", 3)};
  }

  void script(std::vector<std::vector<StageOutcome>> scripts) {
    std::vector<std::unique_ptr<StageTransport>> transports;
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
      auto fake = std::make_unique<FakeTransport>(
          i, calls, i < scripts.size() ? std::move(scripts[i]) : std::vector<StageOutcome>{});
      fakes.push_back(fake.get());
      transports.push_back(std::move(fake));
    }
    executor =
        std::make_unique<ChainExecutor>(io.get_executor(), spec, std::move(transports), health);
  }

  void start(Invocation inv, std::optional<InvocationResult>& out) {
    asio::co_spawn(io, executor->invoke(std::move(inv)),
                   [&out](std::exception_ptr e, InvocationResult r) {
                     if (e) std::rethrow_exception(e);
                     out = std::move(r);
                   });
  }

  InvocationResult invoke(Invocation inv) {
    std::optional<InvocationResult> out;
    start(std::move(inv), out);
    io.restart();
    io.run_for(10s);
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  std::vector<std::size_t> stages_called() const {
    std::vector<std::size_t> v;
    for (const auto& c : calls) v.push_back(c.stage);
    return v;
  }
};

using Stages = std::vector<std::size_t>;
using Timings = std::vector<std::pair<std::string, int>>;

// (stage, status) of each timing.
Timings timings(const InvocationResult& r) {
  Timings v;
  for (const auto& t : r.timings) v.emplace_back(t.stage, t.status);
  return v;
}

TEST_CASE("a request flows through three stages", "[executor]") {
  Harness h;
  h.script({{answer(200, "f1,f2", "application/x-features", Opt("from-featurize"))},
            {answer(200, "0.93", "text/csv; charset=utf-8", Opt("from-model"))},
            {answer(200, "{\"p\":0.93}", "application/json", Opt("from-postprocess"))}});
  const auto before = Clock::now();
  const InvocationResult r = h.invoke(client_request());
  const auto after = Clock::now();

  REQUIRE_FALSE(r.error.has_value());
  CHECK(r.body == "{\"p\":0.93}");
  CHECK(r.content_type == "application/json");
  CHECK(r.custom_attributes == Opt("from-postprocess"));

  REQUIRE(h.stages_called() == Stages{0, 1, 2});
  CHECK(h.calls[0].body == "1,2,3");
  CHECK(h.calls[0].headers.content_type == Opt("text/csv"));
  CHECK(h.calls[0].headers.accept == Opt());
  CHECK(h.calls[1].body == "f1,f2");
  CHECK(h.calls[1].headers.content_type == Opt("application/x-features"));
  CHECK(h.calls[1].headers.accept == Opt());
  CHECK(h.calls[2].body == "0.93");
  CHECK(h.calls[2].headers.content_type == Opt("text/csv; charset=utf-8"));
  CHECK(h.calls[2].headers.accept == Opt("application/json"));
  for (const Call& c : h.calls) {
    CHECK(c.headers.custom_attributes == Opt("trace=abc"));  // the client's, to every stage
    CHECK(c.headers.inference_id == "req-7");
  }

  CHECK(timings(r) == Timings{{"featurize", 200}, {"model", 200}, {"postprocess", 200}});
  std::chrono::microseconds sum{0};
  for (const auto& t : r.timings) sum += t.duration;
  CHECK(r.total >= sum);
  CHECK(r.total <= std::chrono::duration_cast<std::chrono::microseconds>(after - before));
}

TEST_CASE("only the last stage's custom attributes and content type reach the client",
          "[executor]") {
  Harness h;
  h.script({{answer(200, "a", "text/plain", Opt("from-featurize"))},
            {answer(200, "b", "", Opt("from-model"))},
            {answer(200, "c", "")}});
  const InvocationResult r = h.invoke(client_request());
  REQUIRE_FALSE(r.error.has_value());
  CHECK(h.calls[2].headers.content_type == Opt());  // the model sent none: none is passed on
  CHECK(r.custom_attributes == Opt());
  CHECK(r.content_type == "application/octet-stream");
  CHECK(r.body == "c");
}

TEST_CASE("a stage answering 415 fails the request as a ModelError naming it", "[executor]") {
  Harness h;
  h.script(
      {{answer(200, "f1,f2", "application/json; charset=utf-8")},
       {answer(415, "unsupported content type\napplication/json; charset=utf-8", "text/plain")},
       {answer(200, "never", "text/plain")}});
  const InvocationResult r = h.invoke(client_request());

  CHECK(h.stages_called() == Stages{0, 1});  // postprocess is never called
  REQUIRE(r.error.has_value());
  const proto::Error& e = *r.error;
  CHECK(e.type == proto::ErrorType::model);
  CHECK(proto::to_http_status(e.type) == 424);
  CHECK(e.message ==
        "Received client error (415) from container-2 (stage 'model') with message "
        "\"unsupported content type application/json; charset=utf-8\". See the log of endpoint "
        "'churn', lines prefixed 'model |' for more information.");
  const auto body = nlohmann::json::parse(proto::error_body(e));
  CHECK(body["OriginalStatusCode"] == 415);
  CHECK(body["OriginalMessage"] == "unsupported content type application/json; charset=utf-8");
  CHECK(body["LogStreamArn"] == "the log of endpoint 'churn', lines prefixed 'model |'");
  CHECK(body["Stage"] == "model");
  CHECK(body["Container"] == "container-2");
  CHECK(r.body.empty());

  CHECK(timings(r) == Timings{{"featurize", 200}, {"model", 415}});
}

TEST_CASE("a 5xx body is cut to 512 bytes in the error", "[executor]") {
  Harness h;
  h.script({{answer(500, std::string(600, 'x'), "text/plain")}});
  const InvocationResult r = h.invoke(client_request());
  CHECK(h.stages_called() == Stages{0});
  REQUIRE(r.error.has_value());
  CHECK(r.error->message ==
        "Received server error (500) from container-1 (stage 'featurize') "
        "with message \"" +
            std::string(512, 'x') +
            "...\". See the log of endpoint 'churn', lines prefixed "
            "'featurize |' for more information.");
}

TEST_CASE("a closed connection adds why the supervisor thinks the stage is down", "[executor]") {
  Harness h;
  h.script({{answer(200, "f", "text/csv")},
            {failure(Kind::closed, "connection reset before a response (did the stage crash?)")}});
  h.fakes[1]->during_call = [&] { h.health.down[1] = "stage 'model' exited with status 137"; };
  const InvocationResult r = h.invoke(client_request());
  CHECK(h.stages_called() == Stages{0, 1});
  REQUIRE(r.error.has_value());
  CHECK(r.error->type == proto::ErrorType::model);
  CHECK(r.error->message ==
        "Received server error (0) from container-2 (stage 'model') with message \"connection "
        "reset before a response (did the stage crash?); stage 'model' exited with status "
        "137\". See the log of endpoint 'churn', lines prefixed 'model |' for more "
        "information.");
  REQUIRE(r.error->stage.has_value());
  CHECK(r.error->stage->original_status == 0);
}

TEST_CASE("a too large response names both stages, or the client after the last", "[executor]") {
  Harness h;
  h.spec.server.stage_payload_bytes = 5ull * 1024 * 1024;
  SECTION("between stages") {
    h.script({{failure(Kind::too_large, "body over the limit")}});
    const InvocationResult r = h.invoke(client_request());
    CHECK(h.stages_called() == Stages{0});
    REQUIRE(r.error.has_value());
    CHECK(r.error->message ==
          "Received server error (0) from container-1 (stage 'featurize') with message \"its "
          "response is over stage_payload_mb (5 MiB), the limit on the body passed to stage "
          "'model' (container-2)\". See the log of endpoint 'churn', lines prefixed 'featurize "
          "|' for more information.");
  }
  SECTION("from the last stage") {
    h.spec.server.stage_payload_bytes = 1536ull * 1024;
    h.script({{answer(200, "a", "text/plain")},
              {answer(200, "b", "text/plain")},
              {failure(Kind::too_large, "body over the limit")}});
    const InvocationResult r = h.invoke(client_request());
    CHECK(h.stages_called() == Stages{0, 1, 2});
    REQUIRE(r.error.has_value());
    CHECK(r.error->message ==
          "Received server error (0) from container-3 (stage 'postprocess') with message \"its "
          "response is over stage_payload_mb (1.5 MiB), the limit on the body returned to the "
          "client\". See the log of endpoint 'churn', lines prefixed 'postprocess |' for more "
          "information.");
  }
}

TEST_CASE("a stage the supervisor reports down fails fast with 503, calling none", "[executor]") {
  Harness h;
  h.health.down[2] = "stage 'postprocess' is restarting (restart 2)";
  h.script({{answer(200, "a", "text/plain")}, {answer(200, "b", "text/plain")}});
  const InvocationResult r = h.invoke(client_request());
  CHECK(h.calls.empty());
  CHECK(r.timings.empty());
  REQUIRE(r.error.has_value());
  CHECK(r.error->type == proto::ErrorType::unavailable);
  CHECK(proto::to_http_status(r.error->type) == 503);
  CHECK(r.error->message == "stage 'postprocess' is restarting (restart 2); retry later");
  CHECK(r.error->retry_after_s == std::optional<int>(1));
}

TEST_CASE("direct mode calls only the targeted stage, with the client's Accept", "[executor]") {
  Harness h;
  h.spec.mode = spec::Mode::direct;
  h.health.down[0] = "stage 'featurize' is restarting";  // not on this route: irrelevant
  h.script({{}, {answer(200, "0.5", "text/csv", Opt("model-says"))}, {}});
  Invocation inv = client_request();
  inv.target_container = "model";
  const InvocationResult r = h.invoke(inv);
  REQUIRE_FALSE(r.error.has_value());
  REQUIRE(h.stages_called() == Stages{1});
  CHECK(h.calls[0].body == "1,2,3");
  CHECK(h.calls[0].headers.content_type == Opt("text/csv"));
  CHECK(h.calls[0].headers.accept == Opt("application/json"));
  CHECK(r.body == "0.5");
  CHECK(r.custom_attributes == Opt("model-says"));
  CHECK(timings(r) == Timings{{"model", 200}});
}

TEST_CASE("a routing error is returned before any stage is called", "[executor]") {
  Harness h;
  h.script({{answer(200, "a", "text/plain")}});
  Invocation inv = client_request();
  inv.target_container = "model";
  const InvocationResult r = h.invoke(inv);
  CHECK(h.calls.empty());
  REQUIRE(r.error.has_value());
  CHECK(r.error->type == proto::ErrorType::validation);
  CHECK(r.error->message ==
        "X-Amzn-SageMaker-Target-Container-Hostname is only valid for a pipeline in direct "
        "mode; pipeline 'churn' is serial");
}

TEST_CASE("stage_restarted resets only that stage's transport", "[executor]") {
  Harness h;
  h.script({});
  h.executor->stage_restarted(1, 9123);
  CHECK(h.fakes[0]->resets.empty());
  CHECK(h.fakes[1]->resets == std::vector<std::uint16_t>{9123});
  CHECK(h.fakes[2]->resets.empty());
}

}  // namespace
}  // namespace tandem::chain
