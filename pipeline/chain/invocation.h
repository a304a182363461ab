// What a client asks of the pipeline and what it gets back, independent of HTTP: the front
// server, batch transform and replay all build an Invocation and run it through the
// ChainExecutor.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tandem/proto/errors.h"

namespace tandem::chain {

struct Invocation {
  std::string body;
  std::optional<std::string> content_type;
  std::optional<std::string> accept;
  std::optional<std::string> custom_attributes;
  std::string inference_id;                     // always set; generated when the client sent none
  std::optional<std::string> target_container;  // direct mode: the stage to call
  std::optional<std::string> traceparent;       // W3C Trace Context, when the client sent one
};

struct StageTiming {
  std::string stage;
  std::chrono::microseconds duration{0};
  int status = 0;  // the stage's HTTP status; 0 when it never answered
};

struct InvocationResult {
  std::optional<proto::Error> error;  // set when the invocation failed
  std::string body;
  std::string content_type;
  std::optional<std::string> custom_attributes;
  std::vector<StageTiming> timings;  // one per stage called, in order
  std::chrono::microseconds total{0};
};

}  // namespace tandem::chain
