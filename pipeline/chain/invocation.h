// What a client asks of the pipeline and what it gets back, independent of HTTP: the front
// server, batch transform and replay all build an Invocation and run it through the
// ChainExecutor.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tandem/proto/errors.h"

namespace tandem::chain {

class BodySource;

struct Invocation {
  std::string body;
  std::optional<std::string> content_type;
  std::optional<std::string> accept;
  std::optional<std::string> custom_attributes;
  std::string inference_id;                     // always set; generated when the client sent none
  std::optional<std::string> target_container;  // direct mode: the stage to call
  // Set: the first stage's body is read from here while it is sent (transport.h); `body` is
  // unused. Only an HTTP first stage streams it; a shared-memory one gets it whole.
  std::shared_ptr<BodySource> body_source;
  std::optional<std::string> traceparent;  // W3C Trace Context, when the client sent one
  // Keep a copy of what each stage received and answered in InvocationResult::hops (data
  // capture with `stages: true`, replay traces). Off by default: the copies cost.
  bool record_hops = false;
};

struct StageTiming {
  std::string stage;
  std::chrono::microseconds duration{0};
  int status = 0;  // the stage's HTTP status; 0 when it never answered
};

// What one stage received and answered; kept when Invocation::record_hops is set.
struct HopRecord {
  std::size_t stage = 0;  // index into spec.stages
  std::string request_body;
  std::optional<std::string> request_content_type;
  std::optional<std::string> accept;
  std::string response_body;  // also a non-2xx answer's; empty when the stage gave none
  std::string response_content_type;
};

struct InvocationResult {
  std::optional<proto::Error> error;  // set when the invocation failed
  std::string body;
  std::string content_type;
  std::optional<std::string> custom_attributes;
  std::vector<StageTiming> timings;  // one per stage called, in order
  std::vector<HopRecord> hops;       // with record_hops: one per entry of `timings`
  std::chrono::microseconds total{0};
};

}  // namespace tandem::chain
