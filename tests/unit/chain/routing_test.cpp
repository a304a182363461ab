// Which stages a request visits, and the headers of each hop (contract section 2).
#include "pipeline/chain/routing.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tandem::chain {
namespace {

using Route = std::vector<std::size_t>;
using Opt = std::optional<std::string>;

spec::StageSpec stage(std::string name, int position) {
  spec::StageSpec s;
  s.name = std::move(name);
  s.container = "container-" + std::to_string(position);
  s.command = {"tandem-identity"};
  return s;
}

spec::PipelineSpec pipeline(spec::Mode mode) {
  spec::PipelineSpec p;
  p.name = "churn";
  p.mode = mode;
  p.stages = {stage("featurize", 1), stage("model", 2), stage("postprocess", 3)};
  return p;
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

TEST_CASE("serial mode visits every stage in order", "[routing]") {
  const auto route = plan_route(pipeline(spec::Mode::serial), client_request());
  REQUIRE(route.ok());
  CHECK(route.value() == Route{0, 1, 2});
}

TEST_CASE("the target header in serial mode is a ValidationError", "[routing]") {
  Invocation inv = client_request();
  inv.target_container = "model";
  const auto route = plan_route(pipeline(spec::Mode::serial), inv);
  REQUIRE_FALSE(route.ok());
  CHECK(route.error().type == proto::ErrorType::validation);
  CHECK(proto::to_http_status(route.error().type) == 400);
  CHECK(route.error().message ==
        "X-Amzn-SageMaker-Target-Container-Hostname is only valid for a pipeline in direct "
        "mode; pipeline 'churn' is serial");
}

TEST_CASE("direct mode visits only the stage the header names", "[routing]") {
  const auto spec = pipeline(spec::Mode::direct);
  Invocation inv = client_request();
  inv.target_container = "model";
  CHECK(plan_route(spec, inv).value() == Route{1});
  inv.target_container = "postprocess";
  CHECK(plan_route(spec, inv).value() == Route{2});
  inv.target_container = "featurize";
  CHECK(plan_route(spec, inv).value() == Route{0});
}

TEST_CASE("direct mode without the header is a ValidationError", "[routing]") {
  const auto route = plan_route(pipeline(spec::Mode::direct), client_request());
  REQUIRE_FALSE(route.ok());
  CHECK(route.error().type == proto::ErrorType::validation);
  CHECK(route.error().message ==
        "pipeline 'churn' is in direct mode: set X-Amzn-SageMaker-Target-Container-Hostname "
        "to one of its stages");
}

TEST_CASE("direct mode with an unknown hostname lists the stages", "[routing]") {
  Invocation inv = client_request();
  inv.target_container = "Model";  // hostnames match exactly
  const auto route = plan_route(pipeline(spec::Mode::direct), inv);
  REQUIRE_FALSE(route.ok());
  CHECK(route.error().type == proto::ErrorType::validation);
  CHECK(route.error().message ==
        "X-Amzn-SageMaker-Target-Container-Hostname 'Model' names no stage of pipeline 'churn' "
        "(stages: featurize, model, postprocess)");
}

TEST_CASE("hop headers along a three-stage serial route", "[routing][headers]") {
  const auto spec = pipeline(spec::Mode::serial);
  const Invocation inv = client_request();

  SECTION("the first stage gets the client's Content-Type and no Accept") {
    const HopHeaders h = hop_headers(spec.stages[0], 0, 3, inv, Opt("ignored/for-first"));
    CHECK(h.content_type == Opt("text/csv"));
    CHECK(h.accept == Opt());
    CHECK(h.custom_attributes == Opt("trace=abc"));
    CHECK(h.inference_id == "req-7");
  }
  SECTION("a middle stage gets the previous stage's Content-Type verbatim, no Accept") {
    const HopHeaders h =
        hop_headers(spec.stages[1], 1, 3, inv, Opt("application/json; charset=utf-8"));
    CHECK(h.content_type == Opt("application/json; charset=utf-8"));
    CHECK(h.accept == Opt());
    CHECK(h.custom_attributes == Opt("trace=abc"));
    CHECK(h.inference_id == "req-7");
  }
  SECTION("the last stage gets the previous Content-Type and the client's Accept") {
    const HopHeaders h = hop_headers(spec.stages[2], 2, 3, inv, Opt("text/csv"));
    CHECK(h.content_type == Opt("text/csv"));
    CHECK(h.accept == Opt("application/json"));
    CHECK(h.custom_attributes == Opt("trace=abc"));
    CHECK(h.inference_id == "req-7");
  }
  SECTION("a previous stage that sent no Content-Type: none is sent on") {
    const HopHeaders h = hop_headers(spec.stages[1], 1, 3, inv, Opt());
    CHECK(h.content_type == Opt());
  }
}

TEST_CASE("a stage's content_type and accept override what it would get", "[routing][headers]") {
  auto spec = pipeline(spec::Mode::serial);
  for (auto& s : spec.stages) {
    s.content_type = "application/x-" + s.name;
    s.accept = "application/x-" + s.name + "-out";
  }
  const Invocation inv = client_request();
  const HopHeaders first = hop_headers(spec.stages[0], 0, 3, inv, Opt());
  CHECK(first.content_type == Opt("application/x-featurize"));
  CHECK(first.accept == Opt("application/x-featurize-out"));
  const HopHeaders middle = hop_headers(spec.stages[1], 1, 3, inv, Opt("text/csv; charset=utf-8"));
  CHECK(middle.content_type == Opt("application/x-model"));
  CHECK(middle.accept == Opt("application/x-model-out"));
  const HopHeaders last = hop_headers(spec.stages[2], 2, 3, inv, Opt("text/csv"));
  CHECK(last.content_type == Opt("application/x-postprocess"));
  CHECK(last.accept == Opt("application/x-postprocess-out"));  // over the client's Accept
}

TEST_CASE("a client without Content-Type or Accept sends none", "[routing][headers]") {
  const auto spec = pipeline(spec::Mode::serial);
  Invocation inv;
  inv.inference_id = "generated-id";
  const HopHeaders first = hop_headers(spec.stages[0], 0, 3, inv, Opt());
  CHECK(first.content_type == Opt());
  CHECK(first.custom_attributes == Opt());
  CHECK(first.inference_id == "generated-id");
  const HopHeaders last = hop_headers(spec.stages[2], 2, 3, inv, Opt("text/csv"));
  CHECK(last.accept == Opt());
}

TEST_CASE("a route of one stage: client Content-Type and Accept both go to it",
          "[routing][headers]") {
  const auto spec = pipeline(spec::Mode::direct);
  const HopHeaders h = hop_headers(spec.stages[1], 0, 1, client_request(), Opt());
  CHECK(h.content_type == Opt("text/csv"));
  CHECK(h.accept == Opt("application/json"));
  CHECK(h.custom_attributes == Opt("trace=abc"));
  CHECK(h.inference_id == "req-7");
}

}  // namespace
}  // namespace tandem::chain
