// How the executor talks to one stage: HTTP on loopback (http_transport.h) or shared memory
// (shm_transport.h), chosen per stage by the spec's `transport`. A transport is owned by the
// executor, one per stage, and is used from the executor's event loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/proto/result.h"
#include "tandem/proto/shm_segment.h"

namespace tandem::chain {

// The headers of one hop, decided by hop_headers() (routing.h).
struct HopHeaders {
  std::optional<std::string> content_type;
  std::optional<std::string> accept;
  std::optional<std::string> custom_attributes;
  std::string inference_id;
  std::optional<std::string> traceparent;  // W3C Trace Context, the client's, to every stage
};

// A request body produced while it is sent (batch transform streaming an object with
// MaxPayloadInMB 0). HTTP sends it with chunked transfer encoding. next() gives the next piece
// and std::nullopt at the end; failure() then says whether the body could not be completed,
// in which case the request is abandoned without its final chunk.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual boost::asio::awaitable<std::optional<std::string>> next() = 0;
  virtual std::optional<std::string> failure() const = 0;
};

struct StageRequest {
  std::string_view body;
  HopHeaders headers;
  std::chrono::steady_clock::time_point deadline;
  BodySource* body_source = nullptr;  // set: the body comes from here instead of `body`
};

struct StageResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::optional<std::string> custom_attributes;
};

// Why a stage gave no response.
struct TransportFailure {
  // too_large: the stage's response is over stage_payload_mb; request_too_large: the request
  // does not fit what the transport can carry (the message says what).
  // exhausted: tandem itself could not open a connection (out of descriptors); says nothing
  // of the stage.
  enum class Kind { timeout, connect, closed, too_large, request_too_large, protocol, exhausted };
  Kind kind = Kind::protocol;
  std::string message;  // e.g. "connection reset before a response (did the stage crash?)"
};

// The stage's answer (whatever its status), or why it gave none.
using StageOutcome = Result<StageResponse, TransportFailure>;

// What a stage process must inherit to be reached by its transport: descriptors (closed in
// tandem once the stage is started) and the environment variables that name them.
struct StageChannel {
  std::vector<proto::shm::UniqueFd> fds;
  std::vector<std::pair<std::string, std::string>> env;
};

class StageTransport {
 public:
  virtual ~StageTransport() = default;
  // Called before each launch of the stage. HTTP needs nothing (the port is the channel).
  virtual StageChannel prepare_launch() { return {}; }
  virtual boost::asio::awaitable<StageOutcome> call(StageRequest request) = 0;
  // The stage was restarted (possibly on another port): drop pooled connections.
  virtual void reset(std::uint16_t port) = 0;
};

// Whether a stage can take a request now (the supervisor's view).
class StageHealth {
 public:
  virtual ~StageHealth() = default;
  virtual std::optional<std::string> unavailable(std::size_t stage) const = 0;
};

}  // namespace tandem::chain
