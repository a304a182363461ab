// Where replay sends events: the pipeline launched locally from its spec (the same Supervisor
// and ChainExecutor as `tandem serve`), or a running endpoint over HTTP. Both run on one Asio
// event loop and are used from it only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/capture/record.h"
#include "pipeline/spec/spec.h"

namespace tandem::capture {

// What the pipeline answered to one replayed event.
struct Reply {
  int status = 0;  // 0: no answer at all (see `failure`)
  std::string body;
  std::string content_type;
  std::string failure;              // why there was no answer
  std::vector<StageRecord> stages;  // each hop, when asked for and the target can tell
  std::chrono::microseconds total{0};
};

class ReplayTarget {
 public:
  virtual ~ReplayTarget() = default;
  // Throws std::runtime_error naming what could not start.
  virtual boost::asio::awaitable<void> start() = 0;
  virtual boost::asio::awaitable<Reply> send(const Event& event, bool record_stages) = 0;
  virtual boost::asio::awaitable<void> stop() = 0;
  virtual std::string describe() const = 0;  // for the log: "pipeline 'x' (3 stages, local)"
};

// The spec's stages, started here.
std::unique_ptr<ReplayTarget> make_local_target(boost::asio::any_io_executor executor,
                                                const spec::PipelineSpec& spec);

// A running endpoint: "http://host:port" (POST /invocations) or a full invocation URL such as
// "http://host:port/endpoints/NAME/invocations". Throws std::invalid_argument for anything
// else (https is not supported).
std::unique_ptr<ReplayTarget> make_endpoint_target(boost::asio::any_io_executor executor,
                                                   const std::string& url,
                                                   std::chrono::milliseconds timeout);

// The inference id replay sends: the captured one, else the event id cut to 64 characters.
std::string replay_inference_id(const Event& event);

}  // namespace tandem::capture
