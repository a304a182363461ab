// One client connection of the front server, request after request: reads each request within
// SessionLimits (answering 100-continue), refuses what cannot be served with its error answer
// and tells its owner, hands every complete request to its owner and writes the answer, and
// after a refusal lingers so the client reads it. The owner (FrontServer) routes and invokes;
// the session never decides what a request means.
//
// A template over the stream: the front server runs it on a beast::tcp_stream, whose expiry
// bounds each step (set before each read and write); its unit tests run it on
// beast::test::stream, which has no timers, so there the deadlines are skipped.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "pipeline/common/log.h"
#include "pipeline/server/http_mapping.h"
#include "pipeline/server/session_limits.h"
#include "tandem/proto/errors.h"
#include "tandem/proto/http_framing.h"
#include "tandem/proto/http_session.h"
#include "tandem/proto/result.h"

namespace tandem::server {

// How far the parser got before reading a request failed: what the refusal may say.
struct ReadProgress {
  bool got_some = false;  // any byte of the request
  bool header_done = false;
  std::optional<std::uint64_t> content_length;
  std::size_t body_received = 0;

  static ReadProgress of(const http::request_parser<http::string_body>& parser) {
    ReadProgress progress{parser.got_some(), parser.is_header_done(), std::nullopt,
                          parser.get().body().size()};
    // Beast asserts that the header is complete before its length is asked.
    if (progress.header_done) {
      if (const auto length = parser.content_length()) progress.content_length = *length;
    }
    return progress;
  }
};

// The refusal owed to a client whose request could not be read (413 over the body limit, 400
// over the header limit or for a malformed or truncated request), or nullopt when nobody is left
// to read one: the client left or timed out. Pure: tested directly.
std::optional<proto::Error> read_error_refusal(const boost::beast::error_code& error,
                                               const ReadProgress& progress,
                                               const SessionLimits& limits);

// What a session asks of the server that owns it. The owner outlives its sessions' use of it.
class SessionOwner {
 public:
  virtual ~SessionOwner() = default;
  // The answer to a complete request (any route); keep-alive is the session's to set.
  virtual boost::asio::awaitable<Response> handle(Request& request) = 0;
  // A request refused before it reached handle(), with its header as far as it was read and
  // the status of the answer it gets: for the owner's counts.
  virtual void refused(const http::request_header<>& header, const proto::Error& refusal,
                       int status) = 0;
  // Once true, every answer closes its connection.
  virtual bool draining() const = 0;
};

// Shared by a session and its owner's list of open connections: a connection waiting for its
// next request's first byte is idle, and the owner may close it to make room (it sets idle to
// false first, which tells the session not to read on).
struct ConnectionState {
  bool idle = true;
};

template <typename Stream>
class Session {
 public:
  // `peer` ("address:port") names the client in log lines.
  Session(Stream& stream, ConnectionState& state, SessionOwner& owner, const SessionLimits& limits,
          std::string peer)
      : stream_(stream), state_(state), owner_(owner), limits_(limits), peer_(std::move(peer)) {}

  // Serves requests until the client leaves, a limit or an error ends the connection, or an
  // answer closes it; then closes the stream.
  boost::asio::awaitable<void> run();

 private:
  using Parser = http::request_parser<http::string_body>;
  // Why a request was not read whole: the stream's or the parser's error, or the refusal of the
  // framing its header asks for (then the body was not read and `error` is empty).
  struct ReadFailed {
    boost::beast::error_code error;
    std::optional<proto::Error> refusal;
  };

  boost::asio::awaitable<bool> wait_for_request();
  boost::asio::awaitable<tandem::Status<ReadFailed>> read_request(Parser& parser);
  boost::asio::awaitable<boost::beast::error_code> write_response(Response& response);
  boost::asio::awaitable<void> refuse(const Parser& parser, const proto::Error& refusal);
  void log_timeout(const Parser& parser) const;

  // Deadlines and closing, for a tcp_stream and for streams without timers or sockets.
  void expires_after(std::chrono::milliseconds timeout) {
    if constexpr (requires { stream_.expires_after(timeout); }) stream_.expires_after(timeout);
  }
  void shutdown_send() {
    if constexpr (requires { stream_.socket(); }) {
      boost::beast::error_code ignored;
      stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    } else {
      stream_.close();
    }
  }
  void close() {
    if constexpr (requires { stream_.socket(); }) {
      boost::beast::error_code ignored;
      stream_.socket().close(ignored);
    } else {
      stream_.close();
    }
  }

  Stream& stream_;
  ConnectionState& state_;
  SessionOwner& owner_;
  const SessionLimits& limits_;
  std::string peer_;
  // Capped (http_framing.h): a chunk header or trailer can never grow it, nor throw.
  boost::beast::flat_buffer buffer_ = proto::http_framing::make_read_buffer();
};

namespace session_detail {
inline auto awaitable_with(boost::beast::error_code& error) {
  return boost::asio::redirect_error(boost::asio::use_awaitable, error);
}
}  // namespace session_detail

template <typename Stream>
boost::asio::awaitable<void> Session<Stream>::run() {
  // Beast reads at most the free capacity: 512 bytes without this.
  buffer_.reserve(proto::http_framing::kReadBufferLimit);
  for (;;) {
    Parser parser;
    parser.header_limit(limits_.header_bytes);
    parser.body_limit(limits_.body_bytes);
    if (!co_await wait_for_request()) break;
    if (auto read = co_await read_request(parser); !read) {
      auto refusal = std::move(read.error().refusal);
      if (!refusal) {
        refusal = read_error_refusal(read.error().error, ReadProgress::of(parser), limits_);
      }
      if (refusal) {
        co_await refuse(parser, *refusal);
      } else if (read.error().error == boost::beast::error::timeout) {
        log_timeout(parser);
      }
      break;
    }
    auto request = parser.release();
    const bool keep_alive = request.keep_alive();
    Response response = co_await owner_.handle(request);
    response.keep_alive(keep_alive && !owner_.draining());
    if (co_await write_response(response)) break;
    if (!response.keep_alive()) {
      shutdown_send();
      break;
    }
  }
  close();
}

// Waits idle_timeout for the next request's first byte; false when the connection ends
// instead (the client left, the time passed, or the owner closed it to make room).
template <typename Stream>
boost::asio::awaitable<bool> Session<Stream>::wait_for_request() {
  if (buffer_.size() == 0) {
    expires_after(limits_.idle_timeout);
    state_.idle = true;
    boost::beast::error_code error;
    const auto n =
        co_await stream_.async_read_some(buffer_.prepare(proto::http_framing::kReadBufferLimit),
                                         session_detail::awaitable_with(error));
    if (error || !state_.idle) co_return false;
    buffer_.commit(n);
  }
  state_.idle = false;
  co_return true;
}

// The whole request, within read_timeout from its first byte. Its framing and declared length
// are checked on the header, before the body is read or 100-continue invites it.
template <typename Stream>
boost::asio::awaitable<tandem::Status<typename Session<Stream>::ReadFailed>>
Session<Stream>::read_request(Parser& parser) {
  namespace http_session = proto::http_session;
  boost::beast::error_code error;
  expires_after(limits_.read_timeout);
  co_await http::async_read_header(stream_, buffer_, parser, session_detail::awaitable_with(error));
  if (error) co_return ReadFailed{error, std::nullopt};
  const auto& header = parser.get();
  if (auto framing = check_framing(header); !framing) {
    co_return ReadFailed{{}, std::move(framing.error())};
  }
  if (const auto length = parser.content_length(); length && *length > limits_.body_bytes) {
    co_return ReadFailed{http::error::body_limit, std::nullopt};
  }
  if (http_session::expects_continue(header)) {
    error = co_await http_session::send_continue(stream_, header.version());
    if (error) co_return ReadFailed{error, std::nullopt};
  }
  co_await http::async_read(stream_, buffer_, parser, session_detail::awaitable_with(error));
  if (error) co_return ReadFailed{error, std::nullopt};
  co_return tandem::Status<ReadFailed>{};
}

template <typename Stream>
boost::asio::awaitable<boost::beast::error_code> Session<Stream>::write_response(
    Response& response) {
  boost::beast::error_code error;
  expires_after(limits_.write_timeout);
  co_await http::async_write(stream_, response, session_detail::awaitable_with(error));
  co_return error;
}

// Answers a refused request and closes the connection; its unread rest is drained first (up to
// the linger limits) so the client reads the answer.
template <typename Stream>
boost::asio::awaitable<void> Session<Stream>::refuse(const Parser& parser,
                                                     const proto::Error& refusal) {
  Response response = error_response(refusal, random_request_id(), 11);
  owner_.refused(parser.get(), refusal, static_cast<int>(response.result_int()));
  response.keep_alive(false);
  if (co_await write_response(response)) co_return;
  shutdown_send();
  expires_after(limits_.linger_timeout);
  co_await proto::http_session::discard_input(stream_, limits_.linger_bytes);
}

// The stream has closed the socket: nothing can be answered, but the log says why.
template <typename Stream>
void Session<Stream>::log_timeout(const Parser& parser) const {
  log::warn(
      "closed the connection from {}: its request's {} did not arrive within "
      "request_read_timeout_s ({:g} s)",
      peer_, parser.is_header_done() ? "body" : "header",
      static_cast<double>(limits_.read_timeout.count()) / 1000.0);
}

// Compiled once, in session.cpp.
extern template class Session<boost::beast::tcp_stream>;

}  // namespace tandem::server
