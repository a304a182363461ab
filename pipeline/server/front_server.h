// The SageMaker-compatible HTTP front: accepts connections, reads requests with size and
// time bounds, admits at most max_concurrent_invocations, hands each invocation to the
// ChainExecutor and writes the answer. On drain it reports unhealthy, stops accepting, and
// lets in-flight invocations finish. Runs on one event loop.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/chain/executor.h"
#include "pipeline/common/gate.h"
#include "pipeline/common/log.h"
#include "pipeline/server/http_mapping.h"
#include "pipeline/server/metrics.h"
#include "pipeline/server/session.h"
#include "pipeline/server/session_limits.h"
#include "pipeline/spec/spec.h"

namespace tandem::server {

enum class CaptureChoice { skip, endpoint, with_stages };

struct FrontServerHooks {
  // Why /ping must not answer 200 now (a stage down or unhealthy), or nullopt.
  std::function<std::optional<std::string>()> not_ready;
  // Stage 1's answer to GET /execution-parameters, when it gave one.
  std::function<boost::asio::awaitable<std::optional<std::string>>()> first_stage_parameters;
  // Each stage's health and restarts for GET /metrics, in spec order (the supervisor's view).
  std::function<std::vector<LiveValues::Stage>()> stage_health;
  // Data capture: asked before each invocation that reaches the chain whether to keep a copy
  // (and of every hop), then handed that copy with the answer. Both must return at once.
  // Unset: nothing is captured and nothing is copied.
  std::function<CaptureChoice()> capture_sample;
  std::function<void(const chain::Invocation& request, const chain::InvocationResult& result,
                     const std::string& request_id, const Response& answer)>
      capture;
};

// How many client connections `tandem serve` admits: the spec's max_connections, lowered so
// that they and `reserve` descriptors (stage connections, pings, pipes, files) fit under the
// process's descriptor limit. Never below 1. Pure: for tests.
std::uint64_t fit_connection_limit(std::uint64_t configured, std::uint64_t descriptor_limit,
                                   std::uint64_t reserve);

// The descriptors tandem keeps for itself beyond client connections: per stage its pooled
// connections (one per request in flight), a ping, its output pipe, pidfd and shm files, plus
// a fixed margin for logs, capture files and the listener.
std::uint64_t descriptor_reserve(const spec::PipelineSpec& spec);

// Owns the listener, the open connections (each served by a Session on a tcp_stream) and the
// count of invocations in flight that drain() waits on.
class FrontServer : private SessionOwner {
 public:
  // `limits` bound each client connection; their body limit and read timeout are the spec's.
  FrontServer(boost::asio::any_io_executor executor, const spec::PipelineSpec& spec,
              chain::ChainExecutor& chain, FrontServerHooks hooks, SessionLimits limits = {});

  // Binds and listens; throws std::runtime_error naming the address when it cannot.
  boost::asio::ip::tcp::endpoint listen(const std::string& host, std::uint16_t port);
  void start();  // accepts connections until drain()
  // Stops accepting, turns /ping unhealthy, and waits for in-flight invocations to finish
  // or `grace` to pass. Returns the number still in flight when it gave up.
  boost::asio::awaitable<std::size_t> drain(std::chrono::milliseconds grace);
  std::size_t in_flight() const { return invocations_.count(); }
  std::size_t connection_limit() const { return connection_limit_; }

 private:
  // An open client connection, oldest first; a connection waiting for its next request is
  // idle and may be closed to make room for a new one.
  struct Connection {
    boost::beast::tcp_stream* stream;
    ConnectionState state;
  };
  using Connections = std::list<Connection>;
  // Makes room for one more connection; false when every connection is busy.
  bool make_room();
  void note_refused_connection(std::string_view why);
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
  // SessionOwner
  boost::asio::awaitable<Response> handle(Request& request) override;
  void refused(const http::request_header<>& header, const proto::Error& refusal,
               int status) override;
  bool draining() const override { return invocations_.closed(); }
  boost::asio::awaitable<Response> invoke(Request& request, const std::string& request_id);
  std::optional<std::string> not_ready() const;  // why /ping must not answer 200, or nullopt
  Response ping(unsigned version) const;
  Response scrape(unsigned version) const;

  boost::asio::any_io_executor executor_;
  const spec::PipelineSpec& spec_;
  chain::ChainExecutor& chain_;
  FrontServerHooks hooks_;
  boost::asio::ip::tcp::acceptor acceptor_;
  SessionLimits limits_;
  EndpointMetrics metrics_;
  // Invocations in flight; closed by drain(), which then refuses new ones.
  common::Gate invocations_;
  // Shared with each session's registration, which may be destroyed after this server (the
  // event loop destroys suspended sessions when it is destroyed).
  std::shared_ptr<Connections> connections_ = std::make_shared<Connections>();
  std::size_t connection_limit_ = 0;
  // Repeated accept failures and refusals are logged once per interval, with a count.
  log::Throttle refusal_log_{std::chrono::seconds(10)};
};

}  // namespace tandem::server
