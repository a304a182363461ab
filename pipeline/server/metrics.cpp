#include "pipeline/server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace tandem::server {

namespace {

constexpr std::array<proto::ErrorType, 10> all_error_types{
    proto::ErrorType::validation,         proto::ErrorType::not_found,
    proto::ErrorType::method_not_allowed, proto::ErrorType::payload_too_large,
    proto::ErrorType::expectation_failed, proto::ErrorType::model,
    proto::ErrorType::model_not_ready,    proto::ErrorType::internal,
    proto::ErrorType::not_implemented,    proto::ErrorType::unavailable};

std::size_t status_class(int status) {
  return status >= 100 && status < 600 ? static_cast<std::size_t>(status / 100) : 0;
}

std::string class_label(std::size_t status_class) {
  return status_class == 0 ? std::string("none") : fmt::format("{}xx", status_class);
}

// A label value with the escapes of the text format: backslash, double quote, newline.
std::string escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Microseconds as seconds, exactly: "0.000050", "1.250000".
std::string seconds(std::int64_t us) {
  return fmt::format("{}.{:06}", us / 1'000'000, us % 1'000'000);
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// `labels` is empty or `key="value",...` without braces.
void sample(std::string& out, std::string_view name, std::string_view labels,
            std::string_view value) {
  if (labels.empty()) {
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  } else {
    fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, value);
  }
}

void histogram(std::string& out, std::string_view name, std::string_view labels,
               const LatencyHistogram& h) {
  const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  std::uint64_t cumulative = 0;
  const auto& buckets = h.buckets();
  for (std::size_t i = 0; i < LatencyHistogram::bounds_us.size(); ++i) {
    cumulative += buckets[i];
    const auto le = fmt::format("{:g}", static_cast<double>(LatencyHistogram::bounds_us[i]) / 1e6);
    sample(out, fmt::format("{}_bucket", name), fmt::format("{}le=\"{}\"", prefix, le),
           std::to_string(cumulative));
  }
  sample(out, fmt::format("{}_bucket", name), prefix + "le=\"+Inf\"", std::to_string(h.count()));
  sample(out, fmt::format("{}_sum", name), labels, seconds(h.sum_us()));
  sample(out, fmt::format("{}_count", name), labels, std::to_string(h.count()));
}

}  // namespace

void LatencyHistogram::observe(std::chrono::microseconds duration) {
  const auto us = std::max<std::int64_t>(0, duration.count());
  const auto bucket = std::lower_bound(bounds_us.begin(), bounds_us.end(), us) - bounds_us.begin();
  ++buckets_[static_cast<std::size_t>(bucket)];
  ++count_;
  sum_us_ += us;
}

EndpointMetrics::EndpointMetrics(const spec::PipelineSpec& spec) : endpoint_(spec.name) {
  stages_.reserve(spec.stages.size());
  for (const auto& s : spec.stages) stages_.push_back(Stage{s.name, s.container, {}, {}});
}

EndpointMetrics::Stage* EndpointMetrics::find_stage(std::string_view name) {
  for (auto& s : stages_)
    if (s.name == name) return &s;
  return nullptr;
}

void EndpointMetrics::record_invocation(int http_status, const chain::InvocationResult& result,
                                        const proto::Error* error) {
  ++invocations_[status_class(http_status)];
  if (error) ++errors_[static_cast<std::size_t>(error->type) % error_types];
  if (result.timings.empty()) return;
  std::chrono::microseconds model{0};
  for (const auto& t : result.timings) {
    model += t.duration;
    if (auto* stage = find_stage(t.stage)) {
      stage->latency.observe(t.duration);
      ++stage->calls[status_class(t.status)];
    }
  }
  model_latency_.observe(model);
  overhead_latency_.observe(std::max(std::chrono::microseconds{0}, result.total - model));
}

void EndpointMetrics::record_rejection(Rejection why) {
  ++rejections_[static_cast<std::size_t>(why)];
  ++invocations_[5];
  ++errors_[static_cast<std::size_t>(proto::ErrorType::unavailable)];
}

std::string EndpointMetrics::render(const LiveValues& live) const {
  std::string out;
  out.reserve(4096 + stages_.size() * 3072);
  render_invocations(out, live);
  render_latencies(out);
  render_stages(out, live);
  return out;
}

namespace {

std::string stage_labels(std::string_view name, std::string_view container) {
  return fmt::format("stage=\"{}\",container=\"{}\"", escape(name), escape(container));
}

}  // namespace

// The endpoint, its readiness and its answers.
void EndpointMetrics::render_invocations(std::string& out, const LiveValues& live) const {
  family(out, "tandem_endpoint_info", "gauge", "The endpoint this tandem serves (always 1).");
  sample(out, "tandem_endpoint_info", fmt::format("endpoint=\"{}\"", escape(endpoint_)), "1");
  family(out, "tandem_ready", "gauge", "1 when GET /ping answers 200, else 0.");
  sample(out, "tandem_ready", "", live.ready ? "1" : "0");

  family(out, "tandem_invocations_total", "counter",
         "Answers to POST /invocations by the HTTP status class the client got (SageMaker's "
         "Invocations, Invocation4XXErrors, Invocation5XXErrors).");
  for (std::size_t c = 0; c < status_classes; ++c) {
    if (c == 2 || c == 4 || c == 5 || invocations_[c] > 0)
      sample(out, "tandem_invocations_total", fmt::format("status_class=\"{}\"", class_label(c)),
             std::to_string(invocations_[c]));
  }
  family(out, "tandem_invocation_errors_total", "counter",
         "Failed invocations by x-amzn-ErrorType and HTTP status.");
  for (const auto type : all_error_types) {
    sample(out, "tandem_invocation_errors_total",
           fmt::format("error_type=\"{}\",status=\"{}\"", proto::error_type_name(type),
                       proto::to_http_status(type)),
           std::to_string(errors_[static_cast<std::size_t>(type)]));
  }
  family(out, "tandem_in_flight_invocations", "gauge",
         "Invocations admitted and not yet answered.");
  sample(out, "tandem_in_flight_invocations", "", std::to_string(live.in_flight));
  family(out, "tandem_rejected_invocations_total", "counter",
         "Invocations refused with 503 before reaching any stage.");
  sample(out, "tandem_rejected_invocations_total", "reason=\"max_concurrent_invocations\"",
         std::to_string(rejections_[0]));
  sample(out, "tandem_rejected_invocations_total", "reason=\"draining\"",
         std::to_string(rejections_[1]));
}

// SageMaker's ModelLatency, OverheadLatency and ContainerLatency.
void EndpointMetrics::render_latencies(std::string& out) const {
  family(out, "tandem_model_latency_seconds", "histogram",
         "SageMaker's ModelLatency: time spent in all stages of an invocation.");
  histogram(out, "tandem_model_latency_seconds", "", model_latency_);
  family(out, "tandem_overhead_latency_seconds", "histogram",
         "SageMaker's OverheadLatency: an invocation's time outside its stages.");
  histogram(out, "tandem_overhead_latency_seconds", "", overhead_latency_);
  family(out, "tandem_container_latency_seconds", "histogram",
         "SageMaker's ContainerLatency: one stage's time for one call, by stage.");
  for (const auto& s : stages_)
    histogram(out, "tandem_container_latency_seconds", stage_labels(s.name, s.container),
              s.latency);
}

// Each stage's calls, and the supervisor's view of it.
void EndpointMetrics::render_stages(std::string& out, const LiveValues& live) const {
  family(out, "tandem_stage_calls_total", "counter",
         "Calls to each stage by the status class it answered (none: no answer: timeout, "
         "refused or reset connection, oversize body, busy slots).");
  for (const auto& s : stages_) {
    for (std::size_t c = 0; c < status_classes; ++c) {
      if (c == 0 || c == 2 || c == 4 || c == 5 || s.calls[c] > 0)
        sample(out, "tandem_stage_calls_total",
               fmt::format("{},status_class=\"{}\"", stage_labels(s.name, s.container),
                           class_label(c)),
               std::to_string(s.calls[c]));
    }
  }
  if (live.stages.empty()) return;
  family(out, "tandem_stage_up", "gauge", "1 when the stage is running and passes /ping.");
  for (std::size_t i = 0; i < stages_.size() && i < live.stages.size(); ++i)
    sample(out, "tandem_stage_up", stage_labels(stages_[i].name, stages_[i].container),
           live.stages[i].up ? "1" : "0");
  family(out, "tandem_stage_restarts_total", "counter",
         "Times the supervisor restarted the stage after it exited or stopped passing /ping.");
  for (std::size_t i = 0; i < stages_.size() && i < live.stages.size(); ++i)
    sample(out, "tandem_stage_restarts_total", stage_labels(stages_[i].name, stages_[i].container),
           std::to_string(live.stages[i].restarts));
}

}  // namespace tandem::server
