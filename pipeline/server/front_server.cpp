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
#include "tandem/proto/http_framing.h"

namespace tandem::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using proto::Error;

namespace {

constexpr auto idle_timeout = std::chrono::seconds(60);
constexpr auto write_timeout = std::chrono::seconds(60);
constexpr std::size_t header_limit = 16 * 1024;

double ms(std::chrono::microseconds us) {
  return static_cast<double>(us.count()) / 1000.0;
}

std::string describe_timings(const chain::InvocationResult& result) {
  std::string out;
  for (const auto& t : result.timings)
    out += fmt::format(" {}={:.3f}ms({})", t.stage, ms(t.duration), t.status);
  return out;
}

// After refusing a body, read and drop what the client still sends (bounded) so it sees our
// answer instead of a reset connection.
asio::awaitable<void> discard_input(beast::tcp_stream& stream) {
  stream.expires_after(std::chrono::seconds(2));
  std::array<char, 64 * 1024> sink;
  beast::error_code ec;
  for (std::size_t total = 0; total < 256 * 1024 * 1024;) {
    // Through the stream, so its expiry applies: a client that keeps the connection open and
    // silent must not hold it (and a max_connections slot) for ever.
    const auto n = co_await stream.async_read_some(asio::buffer(sink),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    total += n;
  }
}

// What arrived of a body the client stopped sending (it closed its side of the connection).
std::string incomplete_body(const http::request_parser<http::string_body>& parser) {
  const std::size_t received = parser.get().body().size();
  if (const auto length = parser.content_length()) {
    return fmt::format("the body ended after {} of its {} bytes", received, *length);
  }
  return fmt::format("the chunked body ended after {} bytes, before its last chunk", received);
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
                         chain::ChainExecutor& chain, FrontServerHooks hooks)
    : executor_(executor),
      spec_(spec),
      chain_(chain),
      hooks_(std::move(hooks)),
      acceptor_(executor),
      metrics_(spec) {}

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
    if (!connection.idle) continue;
    connection.idle = false;  // closing: not a candidate twice
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
  } registered{connections_, connections_->insert(connections_->end(), Connection{&stream})};
  // Capped (http_framing.h): a chunk header or trailer can never grow it, nor throw.
  auto buffer = proto::http_framing::make_read_buffer();
  // Beast reads at most the free capacity: 512 bytes without this.
  buffer.reserve(proto::http_framing::kReadBufferLimit);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(header_limit);
    parser.body_limit(spec_.server.max_payload_bytes);
    // An idle connection may wait idle_timeout for a request's first byte; from there the
    // whole request must arrive within request_read_timeout_s, however the client paces it.
    if (buffer.size() == 0) {
      stream.expires_after(idle_timeout);
      registered.it->idle = true;
      const auto n =
          co_await stream.async_read_some(buffer.prepare(proto::http_framing::kReadBufferLimit),
                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !registered.it->idle) break;  // gone, idle too long, or closed for room
      buffer.commit(n);
    }
    registered.it->idle = false;
    stream.expires_after(spec_.server.request_read_timeout);
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
    std::optional<Error> refused;
    if (!ec) {
      const auto& h = parser.get();
      const auto length = parser.content_length();
      if (auto framing = refuse_framing(h)) {
        refused = std::move(framing);
      } else if (length && *length > spec_.server.max_payload_bytes) {
        ec = http::error::body_limit;
      } else if (beast::iequals(h[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, h.version()};
        co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
      }
      if (!ec && !refused) {
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    if (refused) {
      // Refused on its header alone: its body is not read.
    } else if (proto::http_framing::is_framing_overflow(ec)) {
      refused = Error::validation("malformed HTTP request: " +
                                  proto::http_framing::framing_overflow_message());
    } else if (ec == http::error::body_limit) {
      refused = Error::payload_too_large(
          fmt::format("request body is larger than max_payload_mb ({:g} MiB, {} bytes)",
                      static_cast<double>(spec_.server.max_payload_bytes) / (1024.0 * 1024.0),
                      spec_.server.max_payload_bytes));
    } else if (ec == http::error::header_limit) {
      refused = Error::validation("request headers are larger than 16 KiB");
    } else if (ec == http::error::partial_message && parser.is_header_done()) {
      refused = Error::validation("malformed HTTP request: " + incomplete_body(parser));
    } else if (ec && parser.got_some() && ec != http::error::end_of_stream &&
               ec != beast::error::timeout && ec != asio::error::eof &&
               ec != asio::error::connection_reset && ec != http::error::partial_message) {
      refused = Error::validation("malformed HTTP request: " + ec.message());
    } else if (ec == beast::error::timeout) {
      // tcp_stream has closed the socket: nothing can be answered, but the log says why.
      log::warn(
          "closed the connection from {}:{}: its request's {} did not arrive within "
          "request_read_timeout_s ({:g} s)",
          peer.address().to_string(), peer.port(), parser.is_header_done() ? "body" : "header",
          static_cast<double>(spec_.server.request_read_timeout.count()) / 1000.0);
      break;
    } else if (ec) {
      break;  // the client went away
    }
    Response res;
    bool keep_alive = false;
    if (refused) {
      res = error_response(*refused, random_request_id(), 11);
      if (refused->type == proto::ErrorType::payload_too_large) {
        // The header was read: an invocation refused for its size counts as one.
        auto route = match_route(parser.get().method(), parser.get().target(), spec_.name);
        if (route && *route == Route::invocations)
          metrics_.record_invocation(static_cast<int>(res.result_int()), chain::InvocationResult{},
                                     &*refused);
      }
    } else {
      auto request = parser.release();
      keep_alive = request.keep_alive();
      res = co_await handle(request);
    }
    res.keep_alive(keep_alive && !draining_);
    stream.expires_after(write_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (!res.keep_alive()) {
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (refused) co_await discard_input(stream);
      break;
    }
  }
  stream.socket().close(ec);
}

std::optional<std::string> FrontServer::not_ready() const {
  if (draining_) return "shutting down";
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
  live.in_flight = in_flight_;
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
  if (draining_) {
    metrics_.record_rejection(Rejection::draining);
    co_return refuse(Error::unavailable("endpoint '" + spec_.name + "' is shutting down"));
  }
  if (in_flight_ >= spec_.server.max_concurrent_invocations) {
    metrics_.record_rejection(Rejection::max_concurrent_invocations);
    co_return refuse(Error::unavailable(
        fmt::format("endpoint '{}' is at max_concurrent_invocations ({}); retry later", spec_.name,
                    spec_.server.max_concurrent_invocations)));
  }
  struct InFlight {
    std::size_t& count;
    explicit InFlight(std::size_t& c) : count(++c) {}
    ~InFlight() { --count; }
  } in_flight(in_flight_);
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
  draining_ = true;
  beast::error_code ec;
  acceptor_.close(ec);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  asio::steady_timer timer(executor_);
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return in_flight_;
}

}  // namespace tandem::server
