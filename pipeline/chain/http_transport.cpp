#include "pipeline/chain/http_transport.h"

#include <sys/socket.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>

#include "pipeline/common/log.h"
#include "tandem/proto/headers.h"
#include "tandem/proto/http_framing.h"

namespace tandem::chain {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace header = proto::header;
using Kind = TransportFailure::Kind;

namespace {

StageOutcome failed(Kind kind, std::string message) {
  return TransportFailure{kind, std::move(message)};
}

template <class Body>
void set_headers(http::request<Body>& req, const StageRequest& request, std::uint16_t port) {
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  const auto& h = request.headers;
  if (h.content_type) req.set(http::field::content_type, *h.content_type);
  if (h.accept) req.set(http::field::accept, *h.accept);
  if (h.custom_attributes) req.set(header::custom_attributes, *h.custom_attributes);
  if (!h.inference_id.empty()) req.set(header::inference_id, h.inference_id);
  if (h.traceparent) req.set("traceparent", *h.traceparent);
  req.keep_alive(true);
}

http::request<http::span_body<const char>> build_request(const StageRequest& request,
                                                         std::uint16_t port) {
  http::request<http::span_body<const char>> req{http::verb::post, "/invocations", 11};
  set_headers(req, request, port);
  req.body() = {request.body.data(), request.body.size()};
  req.prepare_payload();
  return req;
}

// Whether an idle pooled connection can carry another request. A non-blocking peek, so it
// never waits: the peer has closed it (stale), or it holds bytes nobody asked for (stray).
enum class Idle { usable, stale, stray };
Idle look_at_idle(beast::tcp_stream& stream) {
  char byte;
  const auto n = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return Idle::stray;
  return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ? Idle::stale : Idle::usable;
}

// Interim (1xx) responses a stage may send before its answer; more is a broken stage.
constexpr int kMaxInterimResponses = 16;

bool is_closed_error(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == http::error::partial_message;
}

}  // namespace

HttpStageTransport::Connection::Connection(asio::any_io_executor ex)
    : stream(ex), buffer(proto::http_framing::make_read_buffer()) {
  // Beast reads at most the buffer's free capacity, and no less than 512 bytes: without room
  // reserved up front a large response arrives 512 bytes per read.
  buffer.reserve(proto::http_framing::kReadBufferLimit);
}

void HttpStageTransport::note_stray_bytes(std::size_t bytes) {
  if (const auto count = stray_log_.admit(std::chrono::steady_clock::now())) {
    log::warn(
        "stage '{}' sent {} byte(s) after a complete response (a Content-Length that counts "
        "characters instead of bytes?); the connection was closed, not reused ({} time(s) since "
        "the last such line)",
        options_.stage, bytes, count);
  }
}

HttpStageTransport::HttpStageTransport(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(options) {}

void HttpStageTransport::reset(std::uint16_t port) {
  options_.port = port;
  ++epoch_;
  idle_.clear();
}

asio::awaitable<StageOutcome> HttpStageTransport::call(StageRequest request) {
  // POST /invocations is not idempotent: a request is sent again only when writing it to a
  // pooled connection failed (the stage had closed it), never once the stage may have read it.
  for (int attempt_no = 0;; ++attempt_no) {
    std::unique_ptr<Connection> connection;
    while (!idle_.empty() && !connection) {
      connection = std::move(idle_.back());
      idle_.pop_back();
      const auto state = look_at_idle(connection->stream);
      if (state == Idle::stray) {
        beast::error_code ignored;
        note_stray_bytes(connection->stream.socket().available(ignored));
      }
      if (state != Idle::usable) connection.reset();
    }
    bool retryable = false;
    auto outcome = co_await attempt(request, connection, retryable);
    if (outcome) {
      if (connection && connection->buffer.size() != 0) {
        note_stray_bytes(connection->buffer.size());
        connection.reset();
      }
      if (connection && connection->epoch == epoch_ && idle_.size() < options_.max_idle_connections)
        idle_.push_back(std::move(connection));
      co_return outcome;
    }
    if (!retryable || attempt_no > 0) co_return outcome;
  }
}

asio::awaitable<Result<std::unique_ptr<HttpStageTransport::Connection>, TransportFailure>>
HttpStageTransport::open(std::chrono::steady_clock::time_point deadline) {
  auto connection = std::make_unique<Connection>(executor_);
  connection->epoch = epoch_;
  connection->stream.expires_at(deadline);
  const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), options_.port);
  beast::error_code ec;
  co_await connection->stream.async_connect(endpoint,
                                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout)
    co_return TransportFailure{Kind::timeout, "timed out connecting"};
  if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system)
    co_return TransportFailure{Kind::exhausted,
                               "tandem is out of file descriptors (" + ec.message() + ")"};
  if (ec) {
    co_return TransportFailure{
        Kind::connect,
        "cannot connect to 127.0.0.1:" + std::to_string(options_.port) + ": " + ec.message()};
  }
  connection->stream.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  co_return std::move(connection);
}

// Chunked, piece by piece as the source produces them, without the last chunk (the caller
// writes it once the source says the body is complete).
asio::awaitable<beast::error_code> HttpStageTransport::write_chunks(Connection& connection,
                                                                    StageRequest& request) {
  beast::error_code ec;
  http::request<http::empty_body> head{http::verb::post, "/invocations", 11};
  set_headers(head, request, options_.port);
  head.chunked(true);
  http::request_serializer<http::empty_body> serializer(head);
  co_await http::async_write_header(connection.stream, serializer,
                                    asio::redirect_error(asio::use_awaitable, ec));
  while (!ec) {
    auto piece = co_await request.body_source->next();
    if (!piece) break;
    if (piece->empty()) continue;
    co_await asio::async_write(connection.stream, http::make_chunk(asio::buffer(*piece)),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

// Reads the stage's answer into `parsing`, skipping interim (1xx) responses, and refusing a
// declared Content-Length over the limit before any of the body is read.
asio::awaitable<beast::error_code> HttpStageTransport::read_response(
    Connection& connection, std::optional<http::response_parser<http::string_body>>& parsing) {
  beast::error_code ec;
  for (int interim = 0;; ++interim) {
    auto& next = parsing.emplace();
    next.body_limit(options_.response_body_limit);
    next.header_limit(proto::http_framing::kReadBufferLimit);
    // Header first: Beast 1.74's eager parse does not enforce body_limit against a declared
    // Content-Length, so the limit is checked here before any of the body is read.
    co_await http::async_read_header(connection.stream, connection.buffer, next,
                                     asio::redirect_error(asio::use_awaitable, ec));
    // An interim response (100 Continue, 103 Early Hints) precedes the answer: skip it.
    const auto code = ec ? 0 : next.get().result_int();
    if (code < 100 || code > 199 || code == 101) break;
    if (interim == kMaxInterimResponses) co_return http::error::bad_status;
  }
  if (ec) co_return ec;
  const auto length = parsing->content_length();
  if (length && *length > options_.response_body_limit) co_return http::error::body_limit;
  co_await http::async_read(connection.stream, connection.buffer, *parsing,
                            asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

TransportFailure HttpStageTransport::read_failure(const beast::error_code& ec) const {
  if (ec == beast::error::timeout) return {Kind::timeout, "timed out waiting for the response"};
  if (ec == http::error::body_limit) {
    return {Kind::too_large, "response body over the limit of " +
                                 std::to_string(options_.response_body_limit) + " bytes"};
  }
  if (is_closed_error(ec)) {
    return {Kind::closed, std::string("connection ") +
                              (ec == asio::error::connection_reset ? "reset" : "closed") +
                              " before a complete response (did the stage crash?)"};
  }
  if (proto::http_framing::is_framing_overflow(ec)) {
    return {Kind::protocol,
            "malformed HTTP response: " + proto::http_framing::framing_overflow_message()};
  }
  return {Kind::protocol, "malformed HTTP response: " + ec.message()};
}

asio::awaitable<StageOutcome> HttpStageTransport::attempt(StageRequest& request,
                                                          std::unique_ptr<Connection>& connection,
                                                          bool& retryable) {
  const bool reused = connection != nullptr;
  if (!connection) {
    auto opened = co_await open(request.deadline);
    if (!opened) co_return std::move(opened).error();
    connection = std::move(*opened);
  }
  connection->stream.expires_at(request.deadline);
  beast::error_code ec;
  if (request.body_source) {
    // Never sent again: the source is consumed.
    ec = co_await write_chunks(*connection, request);
    if (!ec) {
      if (auto why = request.body_source->failure()) {
        connection.reset();  // closed without the last chunk: the stage sees the body cut short
        co_return failed(Kind::protocol, "the request body could not be completed: " + *why);
      }
      co_await asio::async_write(connection->stream, http::make_chunk_last(),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
  } else {
    auto req = build_request(request, options_.port);
    co_await http::async_write(connection->stream, req,
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  // A stage may answer and close before it has read the whole request (a 413 for a body over
  // its limit): its answer is read, briefly, before the write's failure is reported.
  beast::error_code write_ec;
  if (ec) {
    retryable = reused && is_closed_error(ec) && request.body_source == nullptr;
    if (ec == beast::error::timeout)
      co_return failed(Kind::timeout, "timed out sending the request");
    if (!is_closed_error(ec))
      co_return failed(Kind::closed,
                       "connection failed while sending the request: " + ec.message());
    write_ec = std::exchange(ec, {});
    connection->stream.expires_at(
        std::min(request.deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1)));
  }
  std::optional<http::response_parser<http::string_body>> parsing;
  ec = co_await read_response(*connection, parsing);
  if (ec && write_ec) {
    co_return failed(Kind::closed,
                     "connection failed while sending the request: " + write_ec.message());
  }
  if (ec) co_return read_failure(ec);
  auto& res = parsing->get();
  StageResponse response;
  response.status = static_cast<int>(res.result_int());
  response.body = std::move(res.body());
  if (auto it = res.find(http::field::content_type); it != res.end())
    response.content_type = std::string(it->value());
  if (auto it = res.find(header::custom_attributes); it != res.end())
    response.custom_attributes = std::string(it->value());
  if (!res.keep_alive() || write_ec) connection.reset();
  co_return response;
}

}  // namespace tandem::chain
