// The steps of serving an HTTP request that both of tandem's servers take the same way: the
// front server's session (pipeline/server/session.h) and a stage's connection in the SDK
// (stages/sdk/connection.cpp). Each server decides what to answer; these say what happened
// and do the socket work that does not depend on the answer.
//
// Templates over the stream, so a session is unit-tested on Beast's test::stream as it runs
// on a tcp_stream. Timeouts are the caller's (a tcp_stream's expires_after before each step):
// test::stream has none.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>

#include "tandem/proto/http_framing.h"

namespace tandem::proto::http_session {

// Why reading a request failed, sorted so that each server decides in one place what (if
// anything) it still answers.
enum class ReadFailure {
  peer_left,          // closed or reset before its request was complete: nobody to answer
  timed_out,          // the stream's expiry (a tcp_stream has closed the socket)
  body_too_large,     // over the parser's body_limit
  header_too_large,   // over the parser's header_limit
  framing_too_large,  // a chunk header or trailer over the capped buffer (http_framing.h)
  body_cut_short,     // the client closed its side after the header, before the body ended
  malformed,          // the parser refused the bytes
  stream_failed,      // any other error of the stream: a failed write of 100 Continue, a cancel
};

// `header_done`: whether the parser had the whole header (a message cut short after it is the
// client's mistake worth answering; before it, the client simply left).
inline ReadFailure sort_read_error(const boost::beast::error_code& error, bool header_done) {
  namespace http = boost::beast::http;
  if (http_framing::is_framing_overflow(error)) return ReadFailure::framing_too_large;
  if (error == http::error::body_limit) return ReadFailure::body_too_large;
  if (error == http::error::header_limit) return ReadFailure::header_too_large;
  if (error == http::error::partial_message) {
    return header_done ? ReadFailure::body_cut_short : ReadFailure::peer_left;
  }
  if (error == http::error::end_of_stream) return ReadFailure::peer_left;
  if (error.category() == make_error_code(http::error::end_of_stream).category()) {
    return ReadFailure::malformed;
  }
  if (error == boost::beast::error::timeout) return ReadFailure::timed_out;
  if (error == boost::asio::error::eof || error == boost::asio::error::connection_reset) {
    return ReadFailure::peer_left;
  }
  return ReadFailure::stream_failed;
}

// Clients that send `Expect: 100-continue` (curl does for large bodies) wait for a 100 before
// sending the body.
inline bool expects_continue(const boost::beast::http::request_header<>& header) {
  return boost::beast::iequals(header[boost::beast::http::field::expect], "100-continue");
}

template <typename Stream>
boost::asio::awaitable<boost::beast::error_code> send_continue(Stream& stream, unsigned version) {
  namespace http = boost::beast::http;
  boost::beast::error_code error;
  http::response<http::empty_body> go_on{http::status::continue_, version};
  co_await http::async_write(stream, go_on,
                             boost::asio::redirect_error(boost::asio::use_awaitable, error));
  co_return error;
}

// After an answer that refused a request whose body was not read (the caller has half-closed
// the connection and set a deadline): reads and drops what the client still sends, up to
// `max_bytes`, until it closes or the stream fails. The client then reads the answer instead
// of a reset (closing with unread data sends RST).
template <typename Stream>
boost::asio::awaitable<void> discard_input(Stream& stream, std::uint64_t max_bytes) {
  std::array<char, 16 * 1024> sink;
  boost::beast::error_code error;
  for (std::uint64_t total = 0; total < max_bytes;) {
    total += co_await stream.async_read_some(
        boost::asio::buffer(sink), boost::asio::redirect_error(boost::asio::use_awaitable, error));
    if (error) break;
  }
}

}  // namespace tandem::proto::http_session
