// The pure half of the front server: routes, invocation headers, responses (contract
// section 3) and GET /execution-parameters.
#include "pipeline/server/http_mapping.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "tandem/proto/headers.h"

namespace tandem::server {
namespace {

using nlohmann::json;
using Opt = std::optional<std::string>;
using http::verb;
using namespace std::chrono_literals;

const std::string endpoint = "churn";

// The error of a route that should not match.
proto::Error route_error(verb method, std::string_view target) {
  const auto r = match_route(method, target, endpoint);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

Request invocation_request() {
  Request req{verb::post, "/invocations", 11};
  req.body() = "1,2,3";
  return req;
}

proto::Error invocation_error(Request req) {
  auto r = parse_invocation(req, "generated-id");
  REQUIRE_FALSE(r.ok());
  return r.error();
}

TEST_CASE("every route matches with its method, query strings ignored", "[routes]") {
  CHECK(match_route(verb::get, "/ping", endpoint).value() == Route::ping);
  CHECK(match_route(verb::post, "/invocations", endpoint).value() == Route::invocations);
  CHECK(match_route(verb::get, "/execution-parameters", endpoint).value() ==
        Route::execution_parameters);
  CHECK(match_route(verb::post, "/endpoints/churn/invocations", endpoint).value() ==
        Route::invocations);
  CHECK(match_route(verb::get, "/ping?probe=1", endpoint).value() == Route::ping);
  CHECK(match_route(verb::post, "/invocations?a=b&c", endpoint).value() == Route::invocations);
  CHECK(match_route(verb::post, "/endpoints/churn/invocations?x=1", endpoint).value() ==
        Route::invocations);
}

TEST_CASE("a known path with the wrong method is a 405 naming the right one", "[routes]") {
  const proto::Error e = route_error(verb::post, "/ping");
  CHECK(e.type == proto::ErrorType::method_not_allowed);
  CHECK(proto::to_http_status(e.type) == 405);
  CHECK(e.message == "POST /ping is not supported; use GET");
  CHECK(route_error(verb::get, "/invocations?x=1").message ==
        "GET /invocations is not supported; use POST");
  CHECK(route_error(verb::put, "/execution-parameters").message ==
        "PUT /execution-parameters is not supported; use GET");
  CHECK(route_error(verb::get, "/endpoints/churn/invocations").message ==
        "GET /endpoints/churn/invocations is not supported; use POST");
}

TEST_CASE("another endpoint's invocations path is a 404", "[routes]") {
  const proto::Error e = route_error(verb::post, "/endpoints/other/invocations");
  CHECK(e.type == proto::ErrorType::not_found);
  CHECK(proto::to_http_status(e.type) == 404);
  CHECK(proto::error_type_name(e.type) == "ValidationError");
  CHECK(e.message == "Endpoint other not found: this server serves endpoint 'churn'");
}

TEST_CASE("an unknown path is a 404 listing the routes", "[routes]") {
  const std::string listing =
      "; routes are GET /ping, POST /invocations, POST /endpoints/churn/invocations, GET "
      "/execution-parameters, GET /metrics";
  const proto::Error e = route_error(verb::get, "/health?verbose");
  CHECK(e.type == proto::ErrorType::not_found);
  CHECK(e.message == "no route for /health" + listing);
  CHECK(route_error(verb::get, "/ping/").message == "no route for /ping/" + listing);
  CHECK(route_error(verb::get, "/Ping").message == "no route for /Ping" + listing);
  CHECK(route_error(verb::post, "/endpoints//invocations").message ==
        "no route for /endpoints//invocations" + listing);
  CHECK(route_error(verb::post, "/endpoints/invocations").message ==
        "no route for /endpoints/invocations" + listing);
  CHECK(route_error(verb::post, "/").message == "no route for /" + listing);
}

TEST_CASE("an invocation takes its fields from the headers", "[invocation]") {
  Request req = invocation_request();
  req.set(http::field::content_type, "text/csv");
  req.set(http::field::accept, "application/json");
  req.set("X-Amzn-SageMaker-Custom-Attributes", "trace=abc, tenant=7");
  req.set("X-Amzn-SageMaker-Inference-Id", "req-7");
  req.set("X-Amzn-SageMaker-Target-Container-Hostname", "model");
  req.set("X-Amzn-SageMaker-Target-Variant", "AllTraffic");
  auto r = parse_invocation(req, "generated-id");
  REQUIRE(r.ok());
  const chain::Invocation& inv = r.value();
  CHECK(inv.body == "1,2,3");
  CHECK(inv.content_type == Opt("text/csv"));
  CHECK(inv.accept == Opt("application/json"));
  CHECK(inv.custom_attributes == Opt("trace=abc, tenant=7"));
  CHECK(inv.inference_id == "req-7");
  CHECK(inv.target_container == Opt("model"));
}

TEST_CASE("header names are case-insensitive", "[invocation]") {
  Request req = invocation_request();
  req.set("x-amzn-sagemaker-custom-attributes", "a=1");
  req.set("X-AMZN-SAGEMAKER-INFERENCE-ID", "id-1");
  req.set("content-type", "application/json");
  auto r = parse_invocation(req, "generated-id");
  REQUIRE(r.ok());
  CHECK(r->custom_attributes == Opt("a=1"));
  CHECK(r->inference_id == "id-1");
  CHECK(r->content_type == Opt("application/json"));
}

TEST_CASE("without optional headers: nothing set, the generated id used", "[invocation]") {
  Request req = invocation_request();
  auto r = parse_invocation(req, "generated-id");
  REQUIRE(r.ok());
  CHECK(r->content_type == Opt());
  CHECK(r->accept == Opt());
  CHECK(r->custom_attributes == Opt());
  CHECK(r->target_container == Opt());
  CHECK(r->inference_id == "generated-id");
}

TEST_CASE("custom attributes: at most 1024 visible ASCII characters", "[invocation]") {
  Request ok = invocation_request();
  ok.set("X-Amzn-SageMaker-Custom-Attributes", std::string(1024, 'a'));
  CHECK(parse_invocation(ok, "g").ok());

  Request too_long = invocation_request();
  too_long.set("X-Amzn-SageMaker-Custom-Attributes", std::string(1025, 'a'));
  const proto::Error e = invocation_error(too_long);
  CHECK(e.type == proto::ErrorType::validation);
  CHECK(proto::to_http_status(e.type) == 400);
  CHECK(e.message ==
        "X-Amzn-SageMaker-Custom-Attributes must be at most 1024 visible ASCII "
        "characters (got 1025 bytes)");

  Request non_ascii = invocation_request();
  non_ascii.set("X-Amzn-SageMaker-Custom-Attributes", "caf\xc3\xa9");
  CHECK(invocation_error(non_ascii).message ==
        "X-Amzn-SageMaker-Custom-Attributes must be at most 1024 visible ASCII characters (got "
        "5 bytes)");

  Request control = invocation_request();
  control.set("X-Amzn-SageMaker-Custom-Attributes",
              "a\x01"
              "b");
  CHECK(invocation_error(control).type == proto::ErrorType::validation);
}

TEST_CASE("inference id: 1 to 64 visible ASCII characters", "[invocation]") {
  const std::string rule = "X-Amzn-SageMaker-Inference-Id must be 1-64 printable ASCII characters";
  Request ok = invocation_request();
  ok.set("X-Amzn-SageMaker-Inference-Id", std::string(64, 'i'));
  auto r = parse_invocation(ok, "g");
  REQUIRE(r.ok());
  CHECK(r->inference_id == std::string(64, 'i'));

  Request empty = invocation_request();
  empty.set("X-Amzn-SageMaker-Inference-Id", "");
  const proto::Error e = invocation_error(empty);
  CHECK(e.type == proto::ErrorType::validation);
  CHECK(e.message == rule);

  Request too_long = invocation_request();
  too_long.set("X-Amzn-SageMaker-Inference-Id", std::string(65, 'i'));
  CHECK(invocation_error(too_long).message == rule);

  Request non_ascii = invocation_request();
  non_ascii.set("X-Amzn-SageMaker-Inference-Id", "id-\xc3\xa9");
  CHECK(invocation_error(non_ascii).message == rule);

  Request control = invocation_request();
  control.set("X-Amzn-SageMaker-Inference-Id", "id\x01");
  CHECK(invocation_error(control).message == rule);
}

// botocore's sagemaker-runtime model: InferenceId pattern "\A\S[\p{Print}]*\z", so a space
// after the first character is valid and SageMaker accepts "order 42".
TEST_CASE("inference id: a space after the first character is valid", "[invocation]") {
  Request req = invocation_request();
  req.set("X-Amzn-SageMaker-Inference-Id", "order 42");
  auto r = parse_invocation(req, "g");
  REQUIRE(r.ok());
  CHECK(r->inference_id == "order 42");
}

TEST_CASE("target variant: only AllTraffic", "[invocation]") {
  Request req = invocation_request();
  req.set("X-Amzn-SageMaker-Target-Variant", "Blue");
  const proto::Error e = invocation_error(req);
  CHECK(e.type == proto::ErrorType::validation);
  CHECK(e.message ==
        "X-Amzn-SageMaker-Target-Variant 'Blue' names no variant of this endpoint; "
        "its only variant is AllTraffic");
}

chain::InvocationResult timed_result() {
  chain::InvocationResult r;
  r.timings = {{"featurize", 312us, 200}, {"model", 1204us, 200}};
  r.total = 1567us;
  return r;
}

TEST_CASE("Server-Timing lists each stage, the overhead and the total in ms", "[timing]") {
  CHECK(server_timing(timed_result()) ==
        "featurize;dur=0.312, model;dur=1.204, overhead;dur=0.051, total;dur=1.567");

  chain::InvocationResult none;
  none.total = 50us;
  CHECK(server_timing(none) == "overhead;dur=0.050, total;dur=0.050");

  chain::InvocationResult skewed = timed_result();
  skewed.total = 1000us;  // stages longer than the total: overhead is 0, not negative
  CHECK(server_timing(skewed) ==
        "featurize;dur=0.312, model;dur=1.204, overhead;dur=0.000, total;dur=1.000");
}

TEST_CASE("a success response carries the body and the runtime API's headers", "[response]") {
  chain::InvocationResult r = timed_result();
  r.body = "{\"p\":0.93}";
  r.content_type = "application/json";
  r.custom_attributes = "from-postprocess";
  const Response res = success_response(r, "req-uuid", 11);
  CHECK(res.result_int() == 200);
  CHECK(res.version() == 11);
  CHECK(res.body() == "{\"p\":0.93}");
  CHECK(res[http::field::content_type] == "application/json");
  CHECK(res[http::field::content_length] == "10");
  CHECK(res["x-Amzn-Invoked-Production-Variant"] == "AllTraffic");
  CHECK(res["x-amzn-RequestId"] == "req-uuid");
  CHECK(res["X-Amzn-SageMaker-Custom-Attributes"] == "from-postprocess");
  CHECK(res["Server-Timing"] ==
        "featurize;dur=0.312, model;dur=1.204, overhead;dur=0.051, total;dur=1.567");

  chain::InvocationResult plain;
  plain.body = "x";
  plain.content_type = "text/plain";
  const Response res10 = success_response(plain, "id", 10);
  CHECK(res10.version() == 10);
  CHECK(res10.find("X-Amzn-SageMaker-Custom-Attributes") == res10.end());
}

TEST_CASE("error responses: status, x-amzn-ErrorType, JSON body, Retry-After", "[response]") {
  SECTION("ValidationError") {
    const Response res = error_response(proto::Error::validation("bad header"), "rid", 11);
    CHECK(res.result_int() == 400);
    CHECK(res[http::field::content_type] == "application/json");
    CHECK(res["x-amzn-ErrorType"] == "ValidationError");
    CHECK(res["x-amzn-RequestId"] == "rid");
    CHECK(res.find("Retry-After") == res.end());
    CHECK(json::parse(res.body()) ==
          json{{"ErrorCode", "ValidationError"}, {"Message", "bad header"}});
    CHECK(res[http::field::content_length] == std::to_string(res.body().size()));
  }
  SECTION("ServiceUnavailable with Retry-After") {
    const Response res = error_response(proto::Error::unavailable("draining", 5), "rid", 11);
    CHECK(res.result_int() == 503);
    CHECK(res["x-amzn-ErrorType"] == "ServiceUnavailable");
    CHECK(res["Retry-After"] == "5");
  }
  SECTION("ModelNotReadyException with Retry-After") {
    const Response res = error_response(proto::Error::model_not_ready("starting"), "rid", 11);
    CHECK(res.result_int() == 429);
    CHECK(res["x-amzn-ErrorType"] == "ModelNotReadyException");
    CHECK(res["Retry-After"] == "1");
  }
  SECTION("ModelError") {
    proto::StageFailure f;
    f.stage = "model";
    f.container = "container-2";
    f.original_status = 415;
    f.original_message = "unsupported";
    f.log_stream = "log";
    const Response res = error_response(proto::Error::stage_status(f), "rid", 11);
    CHECK(res.result_int() == 424);
    CHECK(res["x-amzn-ErrorType"] == "ModelError");
    const json body = json::parse(res.body());
    CHECK(body["OriginalStatusCode"] == 415);
    CHECK(body["OriginalMessage"] == "unsupported");
    CHECK(body["LogStreamArn"] == "log");
    CHECK(body["Message"] ==
          "Received client error (415) from container-2 (stage 'model') with message "
          "\"unsupported\". See log for more information.");
  }
  SECTION("405 and 404 are ValidationErrors with their own status") {
    const auto not_allowed = error_response(proto::Error::method_not_allowed("m", "POST"), "r", 11);
    CHECK(not_allowed.result_int() == 405);
    CHECK(not_allowed["Allow"] == "POST");
    CHECK(error_response(proto::Error::not_found("n"), "r", 11)["x-amzn-ErrorType"] ==
          "ValidationError");
    CHECK(error_response(proto::Error::payload_too_large("p"), "r", 11).result_int() == 413);
  }
}

TEST_CASE("execution parameters: spec, then the stage's answer, then defaults", "[execparams]") {
  spec::ExecutionParameters none;
  spec::ExecutionParameters all{4, "SINGLE_RECORD", 10};
  const std::string stage_answer =
      R"({"MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 12})";

  CHECK(execution_parameters(none, std::nullopt) ==
        R"({"BatchStrategy":"MULTI_RECORD","MaxConcurrentTransforms":1,"MaxPayloadInMB":6})");
  CHECK(json::parse(execution_parameters(none, stage_answer)) ==
        json{{"MaxConcurrentTransforms", 3},
             {"BatchStrategy", "SINGLE_RECORD"},
             {"MaxPayloadInMB", 12}});
  CHECK(json::parse(execution_parameters(all, R"({"MaxConcurrentTransforms": 3})")) ==
        json{{"MaxConcurrentTransforms", 4},
             {"BatchStrategy", "SINGLE_RECORD"},
             {"MaxPayloadInMB", 10}});

  spec::ExecutionParameters some;
  some.batch_strategy = "SINGLE_RECORD";
  CHECK(json::parse(execution_parameters(some, R"({"MaxConcurrentTransforms": 2})")) ==
        json{{"MaxConcurrentTransforms", 2},
             {"BatchStrategy", "SINGLE_RECORD"},
             {"MaxPayloadInMB", 6}});
}

TEST_CASE("execution parameters: a malformed or invalid stage answer is ignored", "[execparams]") {
  const std::string defaults =
      R"({"BatchStrategy":"MULTI_RECORD","MaxConcurrentTransforms":1,"MaxPayloadInMB":6})";
  const spec::ExecutionParameters none;
  CHECK(execution_parameters(none, std::string("not json {")) == defaults);
  CHECK(execution_parameters(none, std::string("")) == defaults);
  CHECK(execution_parameters(none, std::string("[4, \"MULTI_RECORD\", 6]")) == defaults);
  CHECK(execution_parameters(none, std::string("null")) == defaults);
  CHECK(execution_parameters(none, std::string(R"({"MaxConcurrentTransforms": -2,
        "BatchStrategy": "EVERYTHING", "MaxPayloadInMB": "6"})")) == defaults);
  CHECK(execution_parameters(none, std::string(R"({"MaxConcurrentTransforms": 2.5,
        "BatchStrategy": 7, "MaxPayloadInMB": null})")) == defaults);
  // A valid field is still taken when its neighbours are not.
  CHECK(json::parse(execution_parameters(
            none, std::string(R"({"MaxConcurrentTransforms": "x", "MaxPayloadInMB": 20})"))) ==
        json{{"MaxConcurrentTransforms", 1},
             {"BatchStrategy", "MULTI_RECORD"},
             {"MaxPayloadInMB", 20}});
}

TEST_CASE("request ids are UUID v4 and differ", "[ids]") {
  const std::string a = random_request_id(), b = random_request_id();
  CHECK_THAT(a,
             Catch::Matches("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  CHECK_THAT(b,
             Catch::Matches("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  CHECK(a != b);
}

}  // namespace
}  // namespace tandem::server

namespace tandem::server {
namespace {

constexpr const char* trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST_CASE("a valid traceparent is passed on verbatim", "[invocation][trace]") {
  Request req = invocation_request();
  req.set("traceparent", trace);
  CHECK(parse_invocation(req, "id").value().traceparent == std::optional<std::string>(trace));
  Request none = invocation_request();
  CHECK_FALSE(parse_invocation(none, "id").value().traceparent.has_value());
}

TEST_CASE("an invalid or repeated traceparent is dropped, never an error", "[invocation][trace]") {
  for (const std::string bad :
       {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",    // no flags
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",     // uppercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     // zero trace-id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     // zero parent-id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // version ff
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",  // 00 has no more
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",    // no dash after
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // separator
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"}) {  // not hex
    INFO(bad);
    CHECK_FALSE(valid_traceparent(bad));
    Request req = invocation_request();
    req.set("traceparent", bad);
    const auto inv = parse_invocation(req, "id");
    REQUIRE(inv.ok());
    CHECK_FALSE(inv.value().traceparent.has_value());
  }
  Request twice = invocation_request();
  twice.insert("traceparent", trace);
  twice.insert("traceparent", trace);
  CHECK_FALSE(parse_invocation(twice, "id").value().traceparent.has_value());
}

TEST_CASE("a later version's traceparent may carry more fields", "[trace]") {
  CHECK(valid_traceparent(trace));
  CHECK(valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK(valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"));
}

}  // namespace
}  // namespace tandem::server

namespace tandem::server {
namespace {

TEST_CASE("an absolute-form target routes as its path (RFC 9112 3.2.2)", "[routes]") {
  CHECK(match_route(http::verb::post, "http://localhost:8080/invocations", "churn").value() ==
        Route::invocations);
  CHECK(match_route(http::verb::get, "HTTPS://example/ping?x=1", "churn").value() == Route::ping);
  CHECK(match_route(http::verb::post, "http://h/endpoints/churn/invocations", "churn").value() ==
        Route::invocations);
  const auto bare = match_route(http::verb::get, "http://host-only", "churn");
  REQUIRE_FALSE(bare.ok());
  CHECK(bare.error().type == proto::ErrorType::not_found);
}

TEST_CASE("a runtime header sent twice is refused, naming it", "[invocation]") {
  for (const std::string_view name :
       {std::string_view("Content-Type"), proto::header::target_container_hostname,
        proto::header::inference_id, proto::header::custom_attributes,
        proto::header::target_variant}) {
    Request req{http::verb::post, "/invocations", 11};
    req.insert(name, "a");
    req.insert(name, "b");
    auto r = parse_invocation(req, "id");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().type == proto::ErrorType::validation);
    CHECK(r.error().message == std::string(name) + " was sent 2 times; send it once");
  }
}

// check_framing's refusal, or nullopt when it accepts the framing.
std::optional<proto::Error> refusal_of(const http::request_header<>& h) {
  auto framing = check_framing(h);
  if (framing) return std::nullopt;
  return std::move(framing.error());
}

TEST_CASE("framing other than chunked or 100-continue is refused before the body", "[framing]") {
  auto refusal = [](std::string_view field, std::string_view value) {
    http::request_header<> h;
    h.method(http::verb::post);
    h.insert(field, value);
    return refusal_of(h);
  };
  CHECK_FALSE(refusal("Transfer-Encoding", "chunked"));
  CHECK_FALSE(refusal("Transfer-Encoding", "Chunked"));
  CHECK_FALSE(refusal("Expect", "100-continue"));
  CHECK_FALSE(refusal("Expect", "100-Continue"));
  const auto gzip = refusal("Transfer-Encoding", "gzip, chunked");
  REQUIRE(gzip);
  CHECK(gzip->type == proto::ErrorType::not_implemented);
  CHECK(proto::to_http_status(gzip->type) == 501);
  CHECK(gzip->message ==
        "Transfer-Encoding 'gzip, chunked' is not supported: send the body as it is (with "
        "Content-Length) or chunked");
  CHECK(refusal("Transfer-Encoding", "chunked, chunked"));
  CHECK(refusal("Transfer-Encoding", "identity"));
  const auto expect = refusal("Expect", "200-ok");
  REQUIRE(expect);
  CHECK(proto::to_http_status(expect->type) == 417);
  CHECK(expect->message ==
        "Expect '200-ok' cannot be met; the only expectation understood is 100-continue");
  http::request_header<> twice;
  twice.insert("Transfer-Encoding", "chunked");
  twice.insert("Transfer-Encoding", "chunked");
  CHECK(refusal_of(twice));
}

}  // namespace
}  // namespace tandem::server
