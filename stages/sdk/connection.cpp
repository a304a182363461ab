#include "stages/sdk/connection.h"

#include <fmt/format.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstdio>
#include <limits>

#include "stages/sdk/http.h"
#include "tandem/proto/http_framing.h"
#include "tandem/proto/http_session.h"

namespace tandem::stage {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using RequestParser = http::request_parser<http::string_body>;

// How long an error answer's connection keeps swallowing the rest of a refused request, so
// the client reads the answer instead of a reset (closing with unread data sends RST).
constexpr auto linger_timeout = std::chrono::seconds(1);

auto awaitable_with(beast::error_code& error) {
  return asio::redirect_error(asio::use_awaitable, error);
}

// Reads one request. Clients that send `Expect: 100-continue` (curl does for large bodies)
// wait for a 100 before sending the body, so answer it once the header passed the limits.
asio::awaitable<beast::error_code> read_request(Connection& connection, beast::flat_buffer& buffer,
                                                RequestParser& parser, const Options& options) {
  beast::error_code error;
  connection.idle = true;
  connection.stream.expires_after(options.idle_timeout);
  co_await http::async_read_header(connection.stream, buffer, parser, awaitable_with(error));
  connection.idle = false;
  if (error) co_return error;
  if (proto::http_session::expects_continue(parser.get())) {
    error = co_await proto::http_session::send_continue(connection.stream, parser.get().version());
    if (error) co_return error;
  }
  connection.stream.expires_after(options.idle_timeout);
  co_await http::async_read(connection.stream, buffer, parser, awaitable_with(error));
  co_return error;
}

asio::awaitable<beast::error_code> write_response(Connection& connection, HttpResponse& response,
                                                  const Options& options) {
  beast::error_code error;
  connection.stream.expires_after(options.write_timeout);
  co_await http::async_write(connection.stream, response, awaitable_with(error));
  co_return error;
}

// After refusing a request whose body was not read: half-close, then read and drop what the
// client still sends for a short while, so it gets to read our answer.
asio::awaitable<void> linger_and_close(Connection& connection) {
  beast::error_code error;
  connection.stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, error);
  connection.stream.expires_after(linger_timeout);
  co_await proto::http_session::discard_input(connection.stream,
                                              std::numeric_limits<std::uint64_t>::max());
}

// Server errors are the stage's own failures: say so on stderr, where its logs go.
void log_server_error(std::string_view target, const HttpResponse& response) {
  if (response.result_int() < 500) return;
  const std::string_view body = response.body();
  fmt::print(stderr, "stage: {} answered {}: {}\n", target.substr(0, 200), response.result_int(),
             body.substr(0, 512));
}

}  // namespace

asio::awaitable<void> serve_connection(Connection& connection, const ConnectionContext& context) {
  const Options& options = context.options;
  // Capped like tandem's own reads (tandem/proto/http_framing.h): chunk headers and trailers
  // cannot grow it, nor make Beast throw.
  auto buffer = proto::http_framing::make_read_buffer();
  // Beast reads at most the free capacity: 512 bytes without this.
  buffer.reserve(proto::http_framing::kReadBufferLimit);
  while (!context.stopping) {
    RequestParser parser;
    parser.body_limit(options.max_body_bytes);
    if (auto error = co_await read_request(connection, buffer, parser, options)) {
      if (auto answer = read_error_response(error, options)) {
        answer->keep_alive(false);
        if (!co_await write_response(connection, *answer, options)) {
          co_await linger_and_close(connection);
        }
      }
      co_return;
    }
    const bool keep_alive = parser.get().keep_alive();
    const std::string target(parser.get().target());
    HttpResponse response = handle_request(parser.release(), context.handler, options);
    // Checked after the handler ran: a stop that came meanwhile closes this connection.
    response.keep_alive(keep_alive && !context.stopping);
    log_server_error(target, response);
    if (co_await write_response(connection, response, options) || !response.keep_alive()) break;
  }
  // Half-close first so the client sees an orderly end of stream after the last response.
  beast::error_code ignored;
  connection.stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace tandem::stage
