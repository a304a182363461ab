// The stage server over real sockets on 127.0.0.1 and ephemeral ports.
#include <catch2/catch.hpp>
#include <csignal>
#include <future>
#include <thread>

#include "test_client.h"

using namespace tandem::stage;
using namespace tandem::stage::testing;

namespace {

Response echo(const Request& request) {
  return Response{.body = request.body,
                  .content_type = request.content_type,
                  .custom_attributes = request.custom_attributes + "|seen"};
}

// A handler that blocks on requests whose body is "block" until released, and says when
// it has started blocking, so tests order events without sleeping.
class Gate {
 public:
  Handler handler() {
    return [this](const Request& request) {
      if (request.body == "block") {
        entered_.set_value();
        released_.wait();
      }
      return Response{.body = "done:" + request.body};
    };
  }
  bool wait_entered() { return entered_future_.wait_for(deadline) == std::future_status::ready; }
  void release() { release_.set_value(); }

 private:
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
};

}  // namespace

TEST_CASE("a server on port 0 serves ping and invocations over one keep-alive connection") {
  std::promise<std::uint16_t> listening;
  Options options = test_options();
  options.on_listening = [&listening](std::uint16_t port) { listening.set_value(port); };
  RunningServer running(echo, options);
  REQUIRE(running.port() != 0);
  CHECK(listening.get_future().get() == running.port());

  TestClient client(running.port());
  auto ping = client.send(make_request(http::verb::get, "/ping"));
  CHECK(ping.result_int() == 200);
  CHECK(ping.keep_alive());

  auto request = make_request(http::verb::post, "/invocations", "a,b\n");
  request.set(http::field::content_type, "text/csv");
  request.set("X-Amzn-SageMaker-Custom-Attributes", "trace=7");
  auto invocation = client.send(std::move(request));
  CHECK(invocation.result_int() == 200);
  CHECK(invocation.body() == "a,b\n");
  CHECK(invocation[http::field::content_type] == "text/csv");
  CHECK(invocation["X-Amzn-SageMaker-Custom-Attributes"] == "trace=7|seen");

  auto missing = client.send(make_request(http::verb::get, "/nowhere"));
  CHECK(missing.result_int() == 404);
  CHECK(missing.keep_alive());
}

TEST_CASE("Connection: close is honoured") {
  RunningServer running(echo);
  TestClient client(running.port());
  auto request = make_request(http::verb::get, "/ping");
  request.keep_alive(false);
  auto response = client.send(std::move(request));
  CHECK(response.result_int() == 200);
  CHECK_FALSE(response.keep_alive());
  CHECK(client.read_error() == http::error::end_of_stream);
}

TEST_CASE("a blocked handler does not hold up other connections") {
  Gate gate;
  RunningServer running(gate.handler());
  auto blocked = std::async(std::launch::async, [port = running.port()] {
    return TestClient(port).send(make_request(http::verb::post, "/invocations", "block"));
  });
  REQUIRE(gate.wait_entered());

  auto other = std::async(std::launch::async, [port = running.port()] {
    return TestClient(port).send(make_request(http::verb::post, "/invocations", "quick"));
  });
  // Recorded before releasing the gate: a serialising server answers only after it.
  const bool answered_meanwhile = other.wait_for(deadline) == std::future_status::ready;
  gate.release();
  CHECK(answered_meanwhile);
  CHECK(other.get().body() == "done:quick");
  CHECK(blocked.get().body() == "done:block");
}

TEST_CASE("a body over the limit is answered 413 and the connection closed") {
  Options options = test_options();
  options.max_body_bytes = 16;
  RunningServer running(echo, options);

  TestClient within(running.port());
  CHECK(within.send(make_request(http::verb::post, "/invocations", std::string(16, 'x')))
            .result_int() == 200);

  TestClient over(running.port());
  auto response = over.send(make_request(http::verb::post, "/invocations", std::string(17, 'x')));
  CHECK(response.result_int() == 413);
  CHECK(response.body() == "request body exceeds the stage's limit of 16 bytes");
  CHECK_FALSE(response.keep_alive());
  CHECK(over.read_error() == http::error::end_of_stream);
}

TEST_CASE("Expect: 100-continue gets a 100 before the body is sent") {
  RunningServer running(echo);
  TestClient client(running.port());
  client.write_raw(
      "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\n");
  CHECK(client.read_response().result_int() == 100);
  client.write_raw("hello");
  auto response = client.read_response();
  CHECK(response.result_int() == 200);
  CHECK(response.body() == "hello");
}

TEST_CASE("a malformed request is answered 400") {
  RunningServer running(echo);
  TestClient client(running.port());
  client.write_raw("POST /invocations HTTP/1.1\r\nContent-Length: nope\r\n\r\n");
  auto response = client.read_response();
  CHECK(response.result_int() == 400);
  CHECK_FALSE(response.keep_alive());
}

TEST_CASE("a silent connection is closed after the idle timeout") {
  Options options = test_options();
  options.idle_timeout = 100ms;
  RunningServer running(echo, options);
  TestClient client(running.port());
  const auto start = std::chrono::steady_clock::now();
  CHECK(client.read_error() == http::error::end_of_stream);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("stop lets in-flight requests finish, closes idle connections, refuses new ones") {
  Gate gate;
  RunningServer running(gate.handler());
  TestClient idle(running.port());
  CHECK(idle.send(make_request(http::verb::get, "/ping")).result_int() == 200);
  auto busy = std::async(std::launch::async, [port = running.port()] {
    return TestClient(port).send(make_request(http::verb::post, "/invocations", "block"));
  });
  REQUIRE(gate.wait_entered());

  running.server().stop();
  // The listener closes asynchronously: poll for refusal with a deadline.
  const auto refused_by = std::chrono::steady_clock::now() + deadline;
  while (!TestClient::try_connect(running.port()) &&
         std::chrono::steady_clock::now() < refused_by) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(TestClient::try_connect(running.port()) == boost::asio::error::connection_refused);
  CHECK(idle.read_error() == http::error::end_of_stream);
  CHECK_FALSE(running.wait(50ms));  // Still draining the blocked request.

  gate.release();
  auto response = busy.get();
  CHECK(response.result_int() == 200);
  CHECK(response.body() == "done:block");
  CHECK_FALSE(response.keep_alive());
  CHECK(running.wait() == std::optional<bool>(true));
}

TEST_CASE("the drain gives up on a handler that outlives drain_timeout") {
  Gate gate;
  Options options = test_options();
  options.drain_timeout = 100ms;
  RunningServer running(gate.handler(), options);
  auto busy = std::async(std::launch::async, [port = running.port()] {
    try {
      TestClient(port).send(make_request(http::verb::post, "/invocations", "block"));
    } catch (const std::system_error&) {
      // The response may or may not make it out once the drain gave up.
    }
  });
  REQUIRE(gate.wait_entered());
  running.server().stop();
  CHECK(running.wait() == std::optional<bool>(false));
  gate.release();  // Lets the server's threads end so it can be destroyed.
}

TEST_CASE("SIGTERM stops a server that asked for signals") {
  Server server(echo, test_options());
  server.stop_on_signals();  // Before run(), as serve() does.
  auto run = std::async(std::launch::async, [&server] { return server.run(); });
  std::raise(SIGTERM);
  const bool stopped = run.wait_for(deadline) == std::future_status::ready;
  server.stop();  // Lets a failing test end instead of hanging.
  CHECK(stopped);
  CHECK(run.get());
}

TEST_CASE("the port can be bound again right after the server closed connections") {
  std::uint16_t port = 0;
  {
    RunningServer running(echo);
    port = running.port();
    TestClient client(port);
    auto request = make_request(http::verb::get, "/ping");
    request.keep_alive(false);  // The server closes first, leaving TIME_WAIT on its port.
    CHECK(client.send(std::move(request)).result_int() == 200);
    CHECK(client.read_error() == http::error::end_of_stream);
  }
  Options options = test_options();
  options.port = port;
  CHECK_NOTHROW(Server(echo, options));
}

TEST_CASE("a port in use is an error naming it") {
  RunningServer running(echo);
  Options options = test_options();
  options.port = running.port();
  CHECK_THROWS_WITH(
      Server(echo, options),
      Catch::Matchers::StartsWith("cannot listen on 127.0.0.1:" + std::to_string(running.port())));
}
