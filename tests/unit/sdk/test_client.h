// Test helpers for the stage server: a blocking HTTP client whose every step has a deadline
// (a broken server fails the test instead of hanging it), and a server run on its own thread.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <system_error>

#include "stages/sdk/http.h"
#include "stages/sdk/stage.h"

namespace tandem::stage::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

inline constexpr auto deadline = std::chrono::seconds(10);

inline HttpRequest make_request(http::verb method, std::string target, std::string body = "") {
  HttpRequest request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

class TestClient {
 public:
  explicit TestClient(std::uint16_t port) {
    const asio::ip::tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), port};
    check(complete([&](auto done) {
      stream_.async_connect(endpoint, [done](beast::error_code error) mutable { done(error, 0); });
    }));
  }

  // Connecting without throwing, to see whether the server still accepts.
  static beast::error_code try_connect(std::uint16_t port) {
    asio::io_context io;
    asio::ip::tcp::socket socket{io};
    beast::error_code error;
    socket.connect({asio::ip::make_address("127.0.0.1"), port}, error);
    return error;
  }

  HttpResponse send(HttpRequest request) {
    check(complete([&](auto done) { http::async_write(stream_, request, done); }));
    return read_response();
  }

  void write_raw(const std::string& bytes) {
    check(complete([&](auto done) { asio::async_write(stream_, asio::buffer(bytes), done); }));
  }

  HttpResponse read_response() {
    HttpResponse response;
    check(complete([&](auto done) { http::async_read(stream_, buffer_, response, done); }));
    return response;
  }

  // The error of the next read: end_of_stream when the server closed the connection.
  beast::error_code read_error() {
    HttpResponse response;
    return complete([&](auto done) { http::async_read(stream_, buffer_, response, done); });
  }

 private:
  // Starts one operation and runs it to completion or to the deadline.
  template <typename Start>
  beast::error_code complete(Start start) {
    beast::error_code result;
    stream_.expires_after(deadline);
    start([&result](beast::error_code error, std::size_t) { result = error; });
    io_.restart();
    io_.run();
    return result;
  }

  static void check(beast::error_code error) {
    if (error) throw std::system_error(error, "test client");
  }

  asio::io_context io_;
  beast::tcp_stream stream_{io_};
  beast::flat_buffer buffer_;
};

inline Options test_options() {
  Options options;
  options.port = 0;
  options.threads = 4;
  options.drain_timeout = 5s;
  return options;
}

// A Server running on another thread; stopped and waited for on destruction.
class RunningServer {
 public:
  explicit RunningServer(Handler handler, Options options = test_options())
      : server_(std::move(handler), std::move(options)),
        run_(std::async(std::launch::async, [this] { return server_.run(); })) {}
  ~RunningServer() {
    server_.stop();
    if (run_.valid()) run_.wait();
  }

  std::uint16_t port() const { return server_.port(); }
  Server& server() { return server_; }

  // run()'s result, or nothing if it did not return before the deadline.
  std::optional<bool> wait(std::chrono::milliseconds limit = deadline) {
    if (!run_.valid() || run_.wait_for(limit) != std::future_status::ready) return std::nullopt;
    return run_.get();
  }

 private:
  Server server_;
  std::future<bool> run_;
};

}  // namespace tandem::stage::testing
