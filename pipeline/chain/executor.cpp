#include "pipeline/chain/executor.h"

#include <fmt/core.h>

#include "pipeline/chain/routing.h"

namespace tandem::chain {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

namespace {

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

proto::StageFailure stage_failure(const spec::PipelineSpec& spec, const spec::StageSpec& stage) {
  proto::StageFailure f;
  f.stage = stage.name;
  f.container = stage.container;
  f.log_stream = "the log of endpoint '" + spec.name + "', lines prefixed '" + stage.name + " |'";
  return f;
}

std::string mib(std::uint64_t bytes) {
  return fmt::format("{:g} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

ChainExecutor::ChainExecutor(asio::any_io_executor executor, const spec::PipelineSpec& spec,
                             std::vector<std::unique_ptr<StageTransport>> transports,
                             const StageHealth& health)
    : spec_(spec), transports_(std::move(transports)), health_(health) {
  for (const auto& stage : spec.stages)
    inflight_.push_back(std::make_unique<AsyncSemaphore>(executor, stage.max_inflight));
}

void ChainExecutor::stage_restarted(std::size_t stage, std::uint16_t port) {
  transports_.at(stage)->reset(port);
}

proto::Error ChainExecutor::failure_error(std::size_t index, std::size_t position,
                                          std::size_t route_length,
                                          const std::vector<std::size_t>& route,
                                          const TransportFailure& failure,
                                          Clock::duration elapsed) const {
  const auto& stage = spec_.stages[index];
  if (failure.kind == TransportFailure::Kind::exhausted) {
    // tandem's own shortage: the stage is not blamed (no ModelError, no stage named as failed).
    return proto::Error::unavailable("tandem could not reach stage '" + stage.name +
                                     "': " + failure.message + "; retry later");
  }
  auto f = stage_failure(spec_, stage);
  std::string what = failure.message;
  if (failure.kind == TransportFailure::Kind::timeout) {
    what = fmt::format("{} after {:.3f} s (timeout_s {:g} s, invocation_timeout_s {:g} s)",
                       failure.message, seconds(elapsed), seconds(stage.timeout),
                       seconds(spec_.server.invocation_timeout));
  } else if (failure.kind == TransportFailure::Kind::too_large) {
    const std::string to = position + 1 < route_length
                               ? "the body passed to stage '" +
                                     spec_.stages[route[position + 1]].name + "' (" +
                                     spec_.stages[route[position + 1]].container + ")"
                               : "the body returned to the client";
    what = "its response is over stage_payload_mb (" + mib(spec_.server.stage_payload_bytes) +
           "), the limit on " + to;
  } else if (auto down = health_.unavailable(index)) {
    what += "; " + *down;
  }
  return proto::Error::stage_failed(std::move(f), what);
}

asio::awaitable<InvocationResult> ChainExecutor::invoke(Invocation invocation) {
  const auto start = Clock::now();
  const auto deadline = start + spec_.server.invocation_timeout;
  InvocationResult result;
  auto route = plan_route(spec_, invocation);
  if (!route) {
    result.error = route.error();
    co_return result;
  }
  // Fail fast, before any stage does work, when a stage on the route cannot take it.
  for (const std::size_t index : *route) {
    if (auto why = health_.unavailable(index)) {
      result.error = proto::Error::unavailable(*why + "; retry later");
      co_return result;
    }
  }
  Carried carried{std::move(invocation.body), std::nullopt, std::nullopt};
  if (invocation.body_source && spec_.stages[route->front()].transport != spec::Transport::http) {
    // A shared-memory slot takes the body whole.
    while (auto piece = co_await invocation.body_source->next()) carried.body += *piece;
    if (auto why = invocation.body_source->failure()) {
      result.error = proto::Error::validation("the request body could not be read: " + *why);
      co_return result;
    }
    invocation.body_source.reset();
  }
  for (std::size_t position = 0; position < route->size(); ++position) {
    if (!co_await hop(invocation, *route, position, deadline, carried, result)) break;
  }
  if (!result.error) {
    result.body = std::move(carried.body);
    result.content_type = carried.content_type.value_or("application/octet-stream");
    result.custom_attributes = std::move(carried.custom_attributes);
  }
  result.total = duration_cast<microseconds>(Clock::now() - start);
  co_return result;
}

asio::awaitable<bool> ChainExecutor::hop(const Invocation& invocation,
                                         const std::vector<std::size_t>& route,
                                         std::size_t position, Clock::time_point deadline,
                                         Carried& carried, InvocationResult& result) {
  const std::size_t index = route[position];
  const auto& stage = spec_.stages[index];
  if (auto why = health_.unavailable(index)) {
    result.error = proto::Error::unavailable(*why + "; retry later");
    co_return false;
  }
  const auto hop_start = Clock::now();
  const auto hop_deadline = std::min(deadline, hop_start + stage.timeout);
  auto headers = hop_headers(stage, position, route.size(), invocation, carried.content_type);
  if (invocation.record_hops)
    result.hops.push_back({index, carried.body, headers.content_type, headers.accept, {}, {}});
  if (!co_await inflight_[index]->acquire(hop_deadline)) {
    result.timings.push_back(
        {stage.name, duration_cast<microseconds>(Clock::now() - hop_start), 0});
    result.error = proto::Error::stage_failed(
        stage_failure(spec_, stage),
        fmt::format("all {} of its max_inflight slots stayed busy for {:.3f} s", stage.max_inflight,
                    seconds(Clock::now() - hop_start)));
    co_return false;
  }
  std::optional<StageOutcome> called;
  {
    AsyncSemaphore::Lease lease(*inflight_[index]);
    StageRequest request{carried.body, std::move(headers), hop_deadline};
    if (position == 0) request.body_source = invocation.body_source.get();
    called.emplace(co_await transports_[index]->call(request));
  }
  StageOutcome& outcome = *called;
  const auto elapsed = Clock::now() - hop_start;
  const int status = outcome ? outcome->status : 0;
  result.timings.push_back({stage.name, duration_cast<microseconds>(elapsed), status});
  if (!outcome) {
    result.error = failure_error(index, position, route.size(), route, outcome.error(), elapsed);
    co_return false;
  }
  auto& response = *outcome;
  if (invocation.record_hops) {
    result.hops.back().response_body = response.body;
    result.hops.back().response_content_type = response.content_type;
  }
  if (status < 200 || status > 299) {
    auto f = stage_failure(spec_, stage);
    f.original_status = status;
    f.original_message = proto::excerpt(response.body);
    result.error = proto::Error::stage_status(std::move(f));
    co_return false;
  }
  carried.body = std::move(response.body);
  carried.content_type = response.content_type.empty()
                             ? std::nullopt
                             : std::optional<std::string>(response.content_type);
  carried.custom_attributes = std::move(response.custom_attributes);
  co_return true;
}

}  // namespace tandem::chain
