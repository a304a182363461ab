// GET /metrics: what an invocation records and the Prometheus text it renders.
#include "pipeline/server/metrics.h"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

namespace tandem::server {
namespace {

using namespace std::chrono_literals;

spec::PipelineSpec two_stages() {
  spec::PipelineSpec spec;
  spec.name = "churn";
  spec::StageSpec a;
  a.name = "featurize";
  a.container = "container-1";
  spec::StageSpec b;
  b.name = "model";
  b.container = "container-2";
  spec.stages = {a, b};
  return spec;
}

chain::InvocationResult result(std::initializer_list<chain::StageTiming> timings,
                               std::chrono::microseconds total) {
  chain::InvocationResult r;
  r.timings = timings;
  r.total = total;
  return r;
}

// The value of the one sample line `name{labels}` (or `name` alone), as text.
std::string value_of(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  std::string found;
  int matches = 0;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) {
      found = line.substr(series.size() + 1);
      ++matches;
    }
  }
  INFO(text);
  REQUIRE(matches == 1);
  return found;
}

const LiveValues idle{0, true, {{true, 0}, {true, 0}}};

TEST_CASE("histogram buckets hold values up to and including their bound", "[metrics]") {
  LatencyHistogram h;
  h.observe(50us);  // exactly the first bound
  h.observe(51us);  // the second bucket
  h.observe(0us);   // the first
  h.observe(-3us);  // clock skew counts as 0
  h.observe(61s);   // beyond the last bound
  CHECK(h.buckets()[0] == 3);
  CHECK(h.buckets()[1] == 1);
  CHECK(h.buckets().back() == 1);
  CHECK(h.count() == 5);
  CHECK(h.sum_us() == 50 + 51 + 61'000'000);
}

TEST_CASE("a fresh endpoint renders every series at zero", "[metrics]") {
  const auto spec = two_stages();
  const EndpointMetrics metrics(spec);
  const auto text = metrics.render(idle);
  CHECK(value_of(text, "tandem_endpoint_info{endpoint=\"churn\"}") == "1");
  CHECK(value_of(text, "tandem_ready") == "1");
  CHECK(value_of(text, "tandem_invocations_total{status_class=\"2xx\"}") == "0");
  CHECK(value_of(text, "tandem_invocations_total{status_class=\"4xx\"}") == "0");
  CHECK(value_of(text, "tandem_invocations_total{status_class=\"5xx\"}") == "0");
  CHECK(
      value_of(text, "tandem_invocation_errors_total{error_type=\"ModelError\",status=\"424\"}") ==
      "0");
  CHECK(value_of(text, "tandem_in_flight_invocations") == "0");
  CHECK(value_of(
            text,
            "tandem_container_latency_seconds_count{stage=\"model\",container=\"container-2\"}") ==
        "0");
  CHECK(value_of(text,
                 "tandem_stage_calls_total{stage=\"featurize\",container=\"container-1\","
                 "status_class=\"none\"}") == "0");
  CHECK(value_of(text, "tandem_stage_up{stage=\"model\",container=\"container-2\"}") == "1");
  // Every family is declared once, before its samples.
  CHECK(text.find("# TYPE tandem_container_latency_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# TYPE tandem_stage_calls_total counter\n") != std::string::npos);
}

TEST_CASE("a successful invocation moves the SageMaker latencies and the 2xx count", "[metrics]") {
  const auto spec = two_stages();
  EndpointMetrics metrics(spec);
  metrics.record_invocation(
      200, result({{"featurize", 300us, 200}, {"model", 1'200us, 200}}, 1'600us), nullptr);
  const auto text = metrics.render(idle);
  CHECK(value_of(text, "tandem_invocations_total{status_class=\"2xx\"}") == "1");
  CHECK(value_of(text, "tandem_model_latency_seconds_sum") == "0.001500");
  CHECK(value_of(text, "tandem_model_latency_seconds_count") == "1");
  CHECK(value_of(text, "tandem_overhead_latency_seconds_sum") == "0.000100");
  CHECK(value_of(text, "tandem_overhead_latency_seconds_bucket{le=\"0.0001\"}") == "1");
  CHECK(value_of(text, "tandem_overhead_latency_seconds_bucket{le=\"5e-05\"}") == "0");
  const std::string featurize = "stage=\"featurize\",container=\"container-1\"";
  CHECK(value_of(text, "tandem_container_latency_seconds_sum{" + featurize + "}") == "0.000300");
  CHECK(value_of(text, "tandem_container_latency_seconds_bucket{" + featurize +
                           ",le=\"0.00025\"}") == "0");
  CHECK(value_of(text, "tandem_container_latency_seconds_bucket{" + featurize +
                           ",le=\"0.0005\"}") == "1");
  CHECK(value_of(text, "tandem_container_latency_seconds_bucket{" + featurize + ",le=\"+Inf\"}") ==
        "1");
  CHECK(value_of(text, "tandem_container_latency_seconds_bucket{" + featurize + ",le=\"60\"}") ==
        "1");
  CHECK(value_of(text, "tandem_stage_calls_total{" + featurize + ",status_class=\"2xx\"}") == "1");
}

TEST_CASE("a stage's 5xx counts against that stage and as a 424 ModelError", "[metrics]") {
  const auto spec = two_stages();
  EndpointMetrics metrics(spec);
  const auto error = proto::Error::stage_status(proto::StageFailure{"model", "container-2", 503});
  metrics.record_invocation(424, result({{"featurize", 100us, 200}, {"model", 40us, 503}}, 200us),
                            &error);
  const auto text = metrics.render(idle);
  CHECK(value_of(text, "tandem_invocations_total{status_class=\"4xx\"}") == "1");
  CHECK(value_of(text, "tandem_invocations_total{status_class=\"2xx\"}") == "0");
  CHECK(
      value_of(text, "tandem_invocation_errors_total{error_type=\"ModelError\",status=\"424\"}") ==
      "1");
  CHECK(value_of(text,
                 "tandem_stage_calls_total{stage=\"model\",container=\"container-2\","
                 "status_class=\"5xx\"}") == "1");
  CHECK(value_of(text,
                 "tandem_stage_calls_total{stage=\"featurize\",container=\"container-1\","
                 "status_class=\"2xx\"}") == "1");
}

TEST_CASE("a stage that never answered counts as status class none", "[metrics]") {
  const auto spec = two_stages();
  EndpointMetrics metrics(spec);
  const auto error = proto::Error::stage_failed(proto::StageFailure{"featurize", "container-1"},
                                                "timed out waiting for the response");
  metrics.record_invocation(424, result({{"featurize", 2s, 0}}, 2s), &error);
  const auto text = metrics.render(idle);
  CHECK(value_of(text,
                 "tandem_stage_calls_total{stage=\"featurize\",container=\"container-1\","
                 "status_class=\"none\"}") == "1");
  CHECK(value_of(text,
                 "tandem_container_latency_seconds_count{stage=\"model\","
                 "container=\"container-2\"}") == "0");
}

TEST_CASE("requests refused before the chain count as 4xx or 503 without latencies", "[metrics]") {
  const auto spec = two_stages();
  EndpointMetrics metrics(spec);
  const auto invalid = proto::Error::validation("bad header");
  metrics.record_invocation(400, chain::InvocationResult{}, &invalid);
  metrics.record_rejection(Rejection::max_concurrent_invocations);
  metrics.record_rejection(Rejection::draining);
  metrics.record_rejection(Rejection::draining);
  const auto text = metrics.render(idle);
  CHECK(value_of(text, "tandem_invocations_total{status_class=\"4xx\"}") == "1");
  CHECK(value_of(text, "tandem_invocations_total{status_class=\"5xx\"}") == "3");
  CHECK(value_of(text,
                 "tandem_invocation_errors_total{error_type=\"ValidationError\","
                 "status=\"400\"}") == "1");
  CHECK(value_of(text,
                 "tandem_invocation_errors_total{error_type=\"ServiceUnavailable\","
                 "status=\"503\"}") == "3");
  CHECK(
      value_of(text, "tandem_rejected_invocations_total{reason=\"max_concurrent_invocations\"}") ==
      "1");
  CHECK(value_of(text, "tandem_rejected_invocations_total{reason=\"draining\"}") == "2");
  CHECK(value_of(text, "tandem_model_latency_seconds_count") == "0");
}

TEST_CASE("live values: in-flight, readiness, stage health and restarts", "[metrics]") {
  const auto spec = two_stages();
  const EndpointMetrics metrics(spec);
  const auto text = metrics.render(LiveValues{3, false, {{true, 0}, {false, 4}}});
  CHECK(value_of(text, "tandem_in_flight_invocations") == "3");
  CHECK(value_of(text, "tandem_ready") == "0");
  CHECK(value_of(text, "tandem_stage_up{stage=\"featurize\",container=\"container-1\"}") == "1");
  CHECK(value_of(text, "tandem_stage_up{stage=\"model\",container=\"container-2\"}") == "0");
  CHECK(value_of(text, "tandem_stage_restarts_total{stage=\"model\",container=\"container-2\"}") ==
        "4");
}

TEST_CASE("label values are escaped", "[metrics]") {
  spec::PipelineSpec spec;
  spec.name = "a\"b\\c\nd";
  const EndpointMetrics metrics(spec);
  const auto text = metrics.render(LiveValues{});
  CHECK(value_of(text, "tandem_endpoint_info{endpoint=\"a\\\"b\\\\c\\nd\"}") == "1");
  CHECK(text.find("tandem_stage_up") == std::string::npos);  // no stages, no stage series
}

}  // namespace
}  // namespace tandem::server
