#include "pipeline/common/http_client.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tandem/proto/http_framing.h"

namespace tandem::common {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

asio::awaitable<Result<HttpResponse, HttpGetError>> one_shot_get(asio::ip::tcp::endpoint endpoint,
                                                                 std::string target,
                                                                 std::chrono::milliseconds timeout,
                                                                 std::size_t body_limit) {
  beast::error_code ec;
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  co_await stream.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return HttpGetError{"connect: " + ec.message(),
                           ec == asio::error::no_descriptors ||
                               ec == boost::system::errc::too_many_files_open_in_system};
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host,
          endpoint.address().to_string() + ":" + std::to_string(endpoint.port()));
  req.keep_alive(false);
  co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return HttpGetError{"write: " + ec.message()};
  // Capped (http_framing.h): a stage's chunk headers and trailers cannot grow it, nor throw.
  auto buffer = proto::http_framing::make_read_buffer();
  buffer.reserve(proto::http_framing::kReadBufferLimit);
  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return HttpGetError{ec == beast::error::timeout ? "timed out"
                           : proto::http_framing::is_framing_overflow(ec)
                               ? "read: " + proto::http_framing::framing_overflow_message()
                               : "read: " + ec.message()};
  }
  HttpResponse response{static_cast<int>(parser.get().result_int()),
                        std::move(parser.get().body())};
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  co_return response;
}

}  // namespace tandem::common
