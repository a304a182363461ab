// The endpoint's Prometheus metrics (GET /metrics): what the front server records per
// invocation, and their text exposition. Pure: no sockets, no clocks. Recording is a few
// integer increments on the event loop's thread (no locks, no allocation), so it costs
// nothing next to a hop; the text is built only when /metrics is scraped.
//
// Latencies carry SageMaker's CloudWatch names (ContainerLatency per stage, ModelLatency,
// OverheadLatency). SageMaker reports them in microseconds; here they are histograms in
// seconds, Prometheus's base unit (promtool rejects a "_microseconds" name), recorded with
// microsecond resolution.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/chain/invocation.h"
#include "pipeline/spec/spec.h"
#include "tandem/proto/errors.h"

namespace tandem::server {

// A latency histogram with fixed buckets from 50 µs to 60 s.
class LatencyHistogram {
 public:
  static constexpr std::array<std::int64_t, 19> bounds_us{
      50,        100,       250,        500,        1'000,     2'500,   5'000,
      10'000,    25'000,    50'000,     100'000,    250'000,   500'000, 1'000'000,
      2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};

  void observe(std::chrono::microseconds duration);

  // Observations per bucket, not cumulative; the last entry is beyond the last bound (+Inf).
  const std::array<std::uint64_t, bounds_us.size() + 1>& buckets() const { return buckets_; }
  std::uint64_t count() const { return count_; }
  std::int64_t sum_us() const { return sum_us_; }

 private:
  std::array<std::uint64_t, bounds_us.size() + 1> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t sum_us_ = 0;
};

// Why the front server refused an invocation before it reached the chain (503).
enum class Rejection { max_concurrent_invocations, draining };

// Values read at scrape time rather than recorded: the front server's and supervisor's state.
struct LiveValues {
  struct Stage {
    bool up = false;  // running and passing /ping
    std::uint32_t restarts = 0;
  };
  std::size_t in_flight = 0;
  bool ready = false;         // GET /ping answers 200
  std::vector<Stage> stages;  // one per spec stage, in spec order; may be empty
};

class EndpointMetrics {
 public:
  explicit EndpointMetrics(const spec::PipelineSpec& spec);

  // An answer to POST /invocations: `http_status` is what the client got, `result` what the
  // chain did (empty when the request never reached it), `error` set when it failed.
  void record_invocation(int http_status, const chain::InvocationResult& result,
                         const proto::Error* error);
  // A 503 before the chain: also counted as an invocation answered with 503.
  void record_rejection(Rejection why);

  // The Prometheus text exposition format (version 0.0.4).
  std::string render(const LiveValues& live) const;

  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  static constexpr std::size_t status_classes = 6;  // index status / 100: 1xx..5xx, 0 = none
  static constexpr std::size_t error_types = 10;    // proto::ErrorType's values

  struct Stage {
    std::string name;
    std::string container;
    LatencyHistogram latency;
    std::array<std::uint64_t, status_classes> calls{};  // by the stage's status class
  };

  Stage* find_stage(std::string_view name);
  void render_invocations(std::string& out, const LiveValues& live) const;
  void render_latencies(std::string& out) const;
  void render_stages(std::string& out, const LiveValues& live) const;

  std::string endpoint_;
  std::vector<Stage> stages_;
  LatencyHistogram model_latency_;
  LatencyHistogram overhead_latency_;
  std::array<std::uint64_t, status_classes> invocations_{};  // by the client's status class
  std::array<std::uint64_t, error_types> errors_{};          // by proto::ErrorType
  std::array<std::uint64_t, 2> rejections_{};                // by Rejection
};

}  // namespace tandem::server
