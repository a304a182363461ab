// The SageMaker-compatible HTTP front: accepts connections, reads requests with size and
// time bounds, admits at most max_concurrent_invocations, hands each invocation to the
// ChainExecutor and writes the answer. On drain it reports unhealthy, stops accepting, and
// lets in-flight invocations finish. Runs on one event loop.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <optional>
#include <string>

#include "pipeline/chain/executor.h"
#include "pipeline/server/http_mapping.h"
#include "pipeline/server/metrics.h"
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

class FrontServer {
 public:
  FrontServer(boost::asio::any_io_executor executor, const spec::PipelineSpec& spec,
              chain::ChainExecutor& chain, FrontServerHooks hooks);

  // Binds and listens; throws std::runtime_error naming the address when it cannot.
  boost::asio::ip::tcp::endpoint listen(const std::string& host, std::uint16_t port);
  void start();  // accepts connections until drain()
  // Stops accepting, turns /ping unhealthy, and waits for in-flight invocations to finish
  // or `grace` to pass. Returns the number still in flight when it gave up.
  boost::asio::awaitable<std::size_t> drain(std::chrono::milliseconds grace);
  std::size_t in_flight() const { return in_flight_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<Response> handle(Request& request);
  boost::asio::awaitable<Response> invoke(Request& request, const std::string& request_id);
  std::optional<std::string> not_ready() const;  // why /ping must not answer 200, or nullopt
  Response ping(unsigned version) const;
  Response scrape(unsigned version) const;

  boost::asio::any_io_executor executor_;
  const spec::PipelineSpec& spec_;
  chain::ChainExecutor& chain_;
  FrontServerHooks hooks_;
  boost::asio::ip::tcp::acceptor acceptor_;
  EndpointMetrics metrics_;
  std::size_t in_flight_ = 0;
  bool draining_ = false;
};

}  // namespace tandem::server
