// The request-serving steps both servers share (tandem/proto/http_session.h), on Beast's test
// stream.
#include "tandem/proto/http_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <catch2/catch.hpp>
#include <string>

namespace tandem::proto::http_session {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

TEST_CASE("read errors are sorted by what is still owed to the client", "[http_session]") {
  CHECK(sort_read_error(http::error::body_limit, true) == ReadFailure::body_too_large);
  CHECK(sort_read_error(http::error::header_limit, false) == ReadFailure::header_too_large);
  CHECK(sort_read_error(http::error::buffer_overflow, true) == ReadFailure::framing_too_large);
  CHECK(sort_read_error(http::error::partial_message, true) == ReadFailure::body_cut_short);
  CHECK(sort_read_error(http::error::partial_message, false) == ReadFailure::peer_left);
  CHECK(sort_read_error(http::error::end_of_stream, false) == ReadFailure::peer_left);
  CHECK(sort_read_error(http::error::bad_method, false) == ReadFailure::malformed);
  CHECK(sort_read_error(http::error::bad_transfer_encoding, true) == ReadFailure::malformed);
  CHECK(sort_read_error(beast::error::timeout, true) == ReadFailure::timed_out);
  CHECK(sort_read_error(asio::error::eof, true) == ReadFailure::peer_left);
  CHECK(sort_read_error(asio::error::connection_reset, true) == ReadFailure::peer_left);
  CHECK(sort_read_error(asio::error::broken_pipe, true) == ReadFailure::stream_failed);
  CHECK(sort_read_error(asio::error::operation_aborted, false) == ReadFailure::stream_failed);
}

TEST_CASE("only 100-continue is an expectation to answer", "[http_session]") {
  http::request_header<> header;
  CHECK_FALSE(expects_continue(header));
  header.set(http::field::expect, "100-Continue");
  CHECK(expects_continue(header));
  header.set(http::field::expect, "200-ok");
  CHECK_FALSE(expects_continue(header));
}

TEST_CASE("send_continue writes an interim 100 in the request's version", "[http_session]") {
  asio::io_context ioc;
  beast::test::stream server(ioc);
  auto client = beast::test::connect(server);
  beast::error_code result = asio::error::fault;
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { result = co_await send_continue(server, 11); },
      asio::detached);
  ioc.run();
  CHECK_FALSE(result);
  CHECK(client.str() == "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST_CASE("discard_input drops what the client sends, up to its bound", "[http_session]") {
  asio::io_context ioc;
  SECTION("until the client closes") {
    beast::test::stream server(ioc, std::string(100'000, 'x'));
    server.close_remote();
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { co_await discard_input(server, 1'000'000); },
        asio::detached);
    while (ioc.poll() > 0) {
    }
    CHECK(server.nread_bytes() == 100'000);
  }
  SECTION("no further than max_bytes, though the client goes on") {
    bool stopped = false;
    beast::test::stream server(ioc, std::string(100'000, 'x'));
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          co_await discard_input(server, 20'000);
          stopped = true;
        },
        asio::detached);
    while (ioc.poll() > 0) {
    }
    CHECK(stopped);  // though the client never closed
    CHECK(server.nread_bytes() >= 20'000);
    CHECK(server.nread_bytes() < 100'000);
  }
}

}  // namespace
}  // namespace tandem::proto::http_session
