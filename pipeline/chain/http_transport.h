// StageTransport over HTTP/1.1 on loopback: POST /invocations with keep-alive connections
// pooled per stage, TCP_NODELAY, a deadline on every step, and a body limit on responses.
// Stages that close every connection (gunicorn's sync worker) simply leave the pool empty.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/chain/transport.h"
#include "pipeline/common/log.h"

namespace tandem::chain {

class HttpStageTransport : public StageTransport {
 public:
  struct Options {
    std::uint16_t port = 0;
    std::uint64_t response_body_limit = 6ull * 1024 * 1024;
    std::size_t max_idle_connections = 8;
    std::string stage;  // its name, for the log
  };
  HttpStageTransport(boost::asio::any_io_executor executor, Options options);

  boost::asio::awaitable<StageOutcome> call(StageRequest request) override;
  void reset(std::uint16_t port) override;

 private:
  struct Connection {
    // Beast reads at most the buffer's free capacity, and no less than 512 bytes: without room
    // reserved up front a large response arrives 512 bytes per read.
    // The buffer is capped (proto/http_framing.h): a stage's chunk headers and trailers are
    // bounded like a client's.
    explicit Connection(boost::asio::any_io_executor ex);
    boost::beast::tcp_stream stream;
    boost::beast::flat_buffer buffer;
    std::uint64_t epoch = 0;  // the reset() generation it was opened in
  };
  // One try on `connection` (opened when null). `retryable`: it failed only because a pooled
  // connection had been closed by the stage before it could read the request.
  boost::asio::awaitable<StageOutcome> attempt(StageRequest& request,
                                               std::unique_ptr<Connection>& connection,
                                               bool& retryable);
  boost::asio::awaitable<Result<std::unique_ptr<Connection>, TransportFailure>> open(
      std::chrono::steady_clock::time_point deadline);
  boost::asio::awaitable<boost::beast::error_code> write_chunks(Connection& connection,
                                                                StageRequest& request);
  boost::asio::awaitable<boost::beast::error_code> read_response(
      Connection& connection,
      std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>>& parsing);
  // Why reading the answer failed, in the words the executor's error quotes.
  TransportFailure read_failure(const boost::beast::error_code& ec) const;

  // A connection that carried more than its response is never reused: the stray bytes would
  // be read as the next request's answer. Logged at most every 10 s, with a count.
  void note_stray_bytes(std::size_t bytes);

  boost::asio::any_io_executor executor_;
  Options options_;
  log::Throttle stray_log_{std::chrono::seconds(10)};
  std::uint64_t epoch_ = 0;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace tandem::chain
