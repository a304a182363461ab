#include "pipeline/server/front_server.h"

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "pipeline/common/log.h"
#include "tandem/proto/headers.h"

namespace tandem::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using proto::Error;

namespace {

double ms(std::chrono::microseconds us) {
  return static_cast<double>(us.count()) / 1000.0;
}

std::string describe_timings(const chain::InvocationResult& result) {
  std::string out;
  for (const auto& t : result.timings)
    out += fmt::format(" {}={:.3f}ms({})", t.stage, ms(t.duration), t.status);
  return out;
}

// One line per invocation; in JSON its fields are also separate keys.
void log_invocation(const std::string& inference_id, const std::string& request_id,
                    const std::optional<std::string>& traceparent, int status,
                    const chain::InvocationResult& result) {
  const auto error =
      result.error ? std::optional(proto::excerpt(result.error->message, 300)) : std::nullopt;
  // The inference id is the client's and the error may quote a stage: both are quoted so
  // neither can end the line or pass for another field.
  auto message =
      fmt::format("invocation id={} status={} total={:.3f}ms{}{} request_id={}",
                  log::quoted(inference_id), status, ms(result.total), describe_timings(result),
                  error ? " error=" + log::quoted(*error) : "", request_id);
  if (log::format() == log::Format::text) {
    log::write(log::Level::info, message);
    return;
  }
  auto stages = nlohmann::json::array();
  for (const auto& t : result.timings)
    stages.push_back({{"stage", t.stage}, {"ms", ms(t.duration)}, {"status", t.status}});
  log::write(log::Level::info, message,
             {{"inference_id", inference_id},
              {"request_id", request_id},
              {"status", std::int64_t{status}},
              {"total_ms", ms(result.total)},
              {"stages", log::RawJson{stages.dump()}},
              error ? log::Field{"error", *error} : log::Field{"error", log::RawJson{"null"}},
              traceparent ? log::Field{"trace_id", traceparent->substr(3, 32)}
                          : log::Field{"trace_id", log::RawJson{"null"}}});
}

}  // namespace

std::uint64_t fit_connection_limit(std::uint64_t configured, std::uint64_t descriptor_limit,
                                   std::uint64_t reserve) {
  const std::uint64_t room = descriptor_limit > reserve ? descriptor_limit - reserve : 0;
  return std::max<std::uint64_t>(1, std::min(configured, room));
}

std::uint64_t descriptor_reserve(const spec::PipelineSpec& spec) {
  std::uint64_t reserve = 128;
  for (const auto& stage : spec.stages) reserve += stage.max_inflight + 8;
  return reserve;
}

FrontServer::FrontServer(asio::any_io_executor executor, const spec::PipelineSpec& spec,
                         chain::ChainExecutor& chain, FrontServerHooks hooks, SessionLimits limits)
    : executor_(executor),
      spec_(spec),
      chain_(chain),
      hooks_(std::move(hooks)),
      acceptor_(executor),
      limits_(limits.with(spec.server)),
      metrics_(spec),
      invocations_(executor) {}

tcp::endpoint FrontServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("server.host '" + host + "' is not an IP address");
  const tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             ec.message());
  }
  acceptor_.listen(asio::socket_base::max_listen_connections);
  // Client connections must never take the descriptors that stage connections and pings need:
  // raise the soft limit as far as needed (and allowed), then admit what fits beneath it.
  const std::uint64_t reserve = descriptor_reserve(spec_);
  const std::uint64_t wanted = spec_.server.max_connections + reserve;
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < wanted) {
      rlimit raised = files;
      raised.rlim_cur =
          files.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(files.rlim_max, wanted);
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
    }
    const std::uint64_t limit =
        files.rlim_cur == RLIM_INFINITY ? wanted : static_cast<std::uint64_t>(files.rlim_cur);
    connection_limit_ = fit_connection_limit(spec_.server.max_connections, limit, reserve);
    if (connection_limit_ < spec_.server.max_connections) {
      log::warn(
          "server.max_connections lowered from {} to {}: the descriptor limit is {} and {} are "
          "kept for stages, pings and files (raise it with ulimit -n or LimitNOFILE=)",
          spec_.server.max_connections, connection_limit_, limit, reserve);
    }
  } else {
    connection_limit_ = spec_.server.max_connections;
  }
  return acceptor_.local_endpoint();
}

bool FrontServer::make_room() {
  if (connections_->size() < connection_limit_) return true;
  // The oldest idle connection goes: a client waiting to send its next request on it sees it
  // closed, as after any idle timeout, and reconnects.
  for (auto& connection : *connections_) {
    if (!connection.state.idle) continue;
    connection.state.idle = false;  // closing: not a candidate twice
    beast::error_code ec;
    connection.stream->socket().shutdown(tcp::socket::shutdown_both, ec);
    connection.stream->cancel();
    return true;  // its descriptor is freed as its session ends, on this loop, right after
  }
  return false;
}

void FrontServer::note_refused_connection(std::string_view why) {
  if (const auto count = refusal_log_.admit(std::chrono::steady_clock::now())) {
    log::warn("{} ({} time(s) since the last such line, which are logged at most every 10 s)", why,
              count);
  }
}

void FrontServer::start() {
  asio::co_spawn(executor_, accept_loop(), asio::detached);
}

asio::awaitable<void> FrontServer::accept_loop() {
  while (acceptor_.is_open()) {
    beast::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
    if (ec) {
      // Out of descriptors or similar: back off briefly instead of spinning.
      note_refused_connection("accept failed: " + ec.message());
      asio::steady_timer timer(executor_, std::chrono::milliseconds(50));
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (!make_room()) {
      // Every connection is busy with a request: this one is closed at once (the client sees
      // the connection end, not a wait), and nothing else is disturbed.
      note_refused_connection(fmt::format(
          "closed a new client connection: server.max_connections ({}) are open and none is idle",
          connection_limit_));
      socket.close(ec);
      continue;
    }
    asio::co_spawn(executor_, session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> FrontServer::session(tcp::socket socket) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  const auto peer = socket.remote_endpoint(ec);
  beast::tcp_stream stream(std::move(socket));
  struct Registered {
    std::shared_ptr<Connections> list;
    Connections::iterator it;
    ~Registered() { list->erase(it); }
  } registered{connections_, connections_->insert(connections_->end(), Connection{&stream, {}})};
  Session<beast::tcp_stream> session(stream, registered.it->state, *this, limits_,
                                     fmt::format("{}:{}", peer.address().to_string(), peer.port()));
  co_await session.run();
}

void FrontServer::refused(const http::request_header<>& header, const Error& refusal, int status) {
  if (refusal.type != proto::ErrorType::payload_too_large) return;
  // The header was read: an invocation refused for its size counts as one.
  auto route = match_route(header.method(), header.target(), spec_.name);
  if (route && *route == Route::invocations) {
    metrics_.record_invocation(status, chain::InvocationResult{}, &refusal);
  }
}

std::optional<std::string> FrontServer::not_ready() const {
  if (draining()) return "shutting down";
  return hooks_.not_ready();
}

Response FrontServer::ping(unsigned version) const {
  const auto why = not_ready();
  Response res{why ? http::status::service_unavailable : http::status::ok, version};
  res.set(http::field::content_type, "application/json");
  res.body() = why ? nlohmann::json{{"status", "Unhealthy"}, {"reason", *why}}.dump() + "\n"
                   : std::string("{\"status\":\"Healthy\"}\n");
  res.prepare_payload();
  return res;
}

Response FrontServer::scrape(unsigned version) const {
  LiveValues live;
  live.in_flight = invocations_.count();
  live.ready = !not_ready();
  if (hooks_.stage_health) live.stages = hooks_.stage_health();
  Response res{http::status::ok, version};
  res.set(http::field::content_type, EndpointMetrics::content_type);
  res.body() = metrics_.render(live);
  res.prepare_payload();
  return res;
}

asio::awaitable<Response> FrontServer::handle(Request& request) {
  auto route = match_route(request.method(), request.target(), spec_.name);
  if (!route) co_return error_response(route.error(), random_request_id(), request.version());
  switch (*route) {
    case Route::ping:
      co_return ping(request.version());
    case Route::execution_parameters: {
      Response res{http::status::ok, request.version()};
      res.set(http::field::content_type, "application/json");
      res.body() = execution_parameters(spec_.execution_parameters,
                                        co_await hooks_.first_stage_parameters());
      res.prepare_payload();
      co_return res;
    }
    case Route::metrics:
      co_return scrape(request.version());
    case Route::invocations:
      break;
  }
  const auto request_id = random_request_id();
  // Refusals carry Server-Timing too, so every invocation answer has one.
  auto refuse = [&](const Error& error) {
    auto res = error_response(error, request_id, request.version());
    res.set(proto::header::server_timing, server_timing(chain::InvocationResult{}));
    return res;
  };
  if (draining()) {
    metrics_.record_rejection(Rejection::draining);
    co_return refuse(Error::unavailable("endpoint '" + spec_.name + "' is shutting down"));
  }
  if (invocations_.count() >= spec_.server.max_concurrent_invocations) {
    metrics_.record_rejection(Rejection::max_concurrent_invocations);
    co_return refuse(Error::unavailable(
        fmt::format("endpoint '{}' is at max_concurrent_invocations ({}); retry later", spec_.name,
                    spec_.server.max_concurrent_invocations)));
  }
  // Open: draining() was checked above, on this loop.
  const auto entry = invocations_.try_enter();
  co_return co_await invoke(request, request_id);
}

asio::awaitable<Response> FrontServer::invoke(Request& request, const std::string& request_id) {
  const unsigned version = request.version();
  auto invocation = parse_invocation(request, request_id);
  if (!invocation) {
    metrics_.record_invocation(proto::to_http_status(invocation.error().type),
                               chain::InvocationResult{}, &invocation.error());
    auto res = error_response(invocation.error(), request_id, version);
    res.set(proto::header::server_timing, server_timing(chain::InvocationResult{}));
    co_return res;
  }
  const std::string inference_id = invocation->inference_id;
  const auto traceparent = invocation->traceparent;
  std::optional<chain::Invocation> captured;
  if (const auto choice = hooks_.capture_sample ? hooks_.capture_sample() : CaptureChoice::skip;
      choice != CaptureChoice::skip) {
    invocation->record_hops = choice == CaptureChoice::with_stages;
    captured = *invocation;
  }
  auto result = co_await chain_.invoke(std::move(*invocation));
  const int status = result.error ? proto::to_http_status(result.error->type) : 200;
  metrics_.record_invocation(status, result, result.error ? &*result.error : nullptr);
  log_invocation(inference_id, request_id, traceparent, status, result);
  Response res;
  if (result.error) {
    res = error_response(*result.error, request_id, version);
    res.set(proto::header::server_timing, server_timing(result));
  } else {
    res = success_response(result, request_id, version);
  }
  if (captured) hooks_.capture(*captured, result, request_id, res);
  co_return res;
}

asio::awaitable<std::size_t> FrontServer::drain(std::chrono::milliseconds grace) {
  invocations_.close();
  beast::error_code ec;
  acceptor_.close(ec);
  co_return co_await invocations_.wait(grace);
}

}  // namespace tandem::server
