// Runs one Invocation through the pipeline's stages: plans the route, passes each stage's
// response to the next with the hop headers of routing.h, keeps the first error and calls
// no stage after it, and attributes every failure to the stage that caused it. The front
// server, batch transform and replay all call this; none of them talks to stages directly.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/chain/async_semaphore.h"
#include "pipeline/chain/invocation.h"
#include "pipeline/chain/transport.h"
#include "pipeline/spec/spec.h"

namespace tandem::chain {

class ChainExecutor {
 public:
  // `transports[i]` talks to spec.stages[i]; the executor owns them. `health` must outlive
  // the executor.
  ChainExecutor(boost::asio::any_io_executor executor, const spec::PipelineSpec& spec,
                std::vector<std::unique_ptr<StageTransport>> transports, const StageHealth& health);

  boost::asio::awaitable<InvocationResult> invoke(Invocation invocation);

  // A stage was restarted: forget its connections.
  void stage_restarted(std::size_t stage, std::uint16_t port);

 private:
  // What one stage's answer passes to the next.
  struct Carried {
    std::string body;
    std::optional<std::string> content_type;
    std::optional<std::string> custom_attributes;
  };
  // Calls stage `route[position]` with what the previous one answered and records its timing.
  // False: the chain ends here, with `result.error` set.
  boost::asio::awaitable<bool> hop(const Invocation& invocation,
                                   const std::vector<std::size_t>& route, std::size_t position,
                                   std::chrono::steady_clock::time_point deadline, Carried& carried,
                                   InvocationResult& result);
  proto::Error failure_error(std::size_t index, std::size_t position, std::size_t route_length,
                             const std::vector<std::size_t>& route, const TransportFailure& failure,
                             std::chrono::steady_clock::duration elapsed) const;

  const spec::PipelineSpec& spec_;
  std::vector<std::unique_ptr<StageTransport>> transports_;
  std::vector<std::unique_ptr<AsyncSemaphore>> inflight_;
  const StageHealth& health_;
};

}  // namespace tandem::chain
