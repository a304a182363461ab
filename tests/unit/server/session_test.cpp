// The front server's session on Beast's test stream: what a client sends is appended to the
// stream's input before the session runs (the client then closes its side), and the session's
// answers are read back from the connected peer. fail_count fails the stream's N-th read or
// write, as Beast's own tests do.
#include "pipeline/server/session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/fail_count.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/http/read.hpp>
#include <catch2/catch.hpp>
#include <exception>
#include <limits>
#include <string>
#include <vector>

namespace tandem::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Answers every request "seen:<body>" and keeps what the session told it.
class FakeOwner final : public SessionOwner {
 public:
  asio::awaitable<Response> handle(Request& request) override {
    ++handled;
    Response response{http::status::ok, request.version()};
    response.body() = "seen:" + request.body();
    response.prepare_payload();
    co_return response;
  }
  void refused(const http::request_header<>&, const proto::Error& refusal, int status) override {
    refusals.push_back({refusal.type, refusal.message, status});
  }
  bool draining() const override { return is_draining; }

  struct Refusal {
    proto::ErrorType type;
    std::string message;
    int status;
  };
  int handled = 0;
  std::vector<Refusal> refusals;
  bool is_draining = false;
};

struct Served {
  std::vector<Response> answers;
  bool finished = false;     // run() returned
  bool closed = false;       // the client saw the end of the stream after the answers
  std::size_t trailing = 0;  // bytes after the last answer that did not parse
};

std::vector<Response> parse_answers(const std::string& wire, std::size_t& trailing) {
  asio::io_context ioc;
  beast::test::stream in(ioc, wire);
  in.close_remote();
  beast::flat_buffer buffer;
  std::vector<Response> answers;
  for (;;) {
    Response answer;
    beast::error_code ec;
    http::read(in, buffer, answer, ec);
    if (ec) break;
    answers.push_back(std::move(answer));
  }
  trailing = buffer.size();
  return answers;
}

// Runs one session over `input` (the client closes its side after sending it), failing the
// stream's `fail_at`-th operation (counted from 0) when given.
Served serve(FakeOwner& owner, const std::string& input, const SessionLimits& limits = {},
             std::size_t fail_at = std::numeric_limits<std::size_t>::max()) {
  asio::io_context ioc;
  beast::test::fail_count fail(fail_at);
  beast::test::stream stream(ioc, fail, input);
  beast::test::stream client = beast::test::connect(stream);
  stream.close_remote();
  ConnectionState state;
  Served served;
  std::exception_ptr failure;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        Session<beast::test::stream> session(stream, state, owner, limits, "192.0.2.1:5000");
        co_await session.run();
        served.finished = true;
      },
      [&](std::exception_ptr e) { failure = e; });
  // Not run(): a session still waiting to read would keep it from returning.
  while (ioc.poll() > 0) {
  }
  if (failure) std::rethrow_exception(failure);
  served.answers = parse_answers(std::string(client.str()), served.trailing);
  client.clear();
  std::array<char, 1> byte;
  client.async_read_some(asio::buffer(byte), [&](beast::error_code ec, std::size_t) {
    served.closed = ec == asio::error::eof;
  });
  ioc.restart();
  while (ioc.poll() > 0) {
  }
  return served;
}

std::string post(std::string_view body, std::string_view extra_headers = "") {
  return fmt::format("POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n{}\r\n{}",
                     body.size(), extra_headers, body);
}

TEST_CASE("a session reads a request, hands it to its owner and writes the answer", "[session]") {
  FakeOwner owner;
  const auto served = serve(owner, post("1,2", "Connection: close\r\n"));
  REQUIRE(served.answers.size() == 1);
  CHECK(served.answers[0].result_int() == 200);
  CHECK(served.answers[0].body() == "seen:1,2");
  CHECK_FALSE(served.answers[0].keep_alive());
  CHECK(owner.handled == 1);
  CHECK(owner.refusals.empty());
  CHECK(served.finished);
  CHECK(served.closed);
}

TEST_CASE("a keep-alive connection serves one request after another", "[session]") {
  FakeOwner owner;
  const auto served = serve(owner, post("a") + post("bc"));
  REQUIRE(served.answers.size() == 2);
  CHECK(served.answers[0].body() == "seen:a");
  CHECK(served.answers[0].keep_alive());
  CHECK(served.answers[1].body() == "seen:bc");
  CHECK(served.answers[1].keep_alive());
  CHECK(owner.handled == 2);
  CHECK(served.finished);  // the client closed its side while the session waited
  CHECK(served.closed);
}

TEST_CASE("a draining owner closes the connection after the answer", "[session]") {
  FakeOwner owner;
  owner.is_draining = true;
  const auto served = serve(owner, post("a") + post("b"));
  REQUIRE(served.answers.size() == 1);
  CHECK_FALSE(served.answers[0].keep_alive());
  CHECK(owner.handled == 1);
  CHECK(served.closed);
}

TEST_CASE("Expect: 100-continue is answered before the body is read", "[session]") {
  FakeOwner owner;
  const auto served = serve(owner, post("body", "Expect: 100-continue\r\n"));
  REQUIRE(served.answers.size() == 2);
  CHECK(served.answers[0].result() == http::status::continue_);
  CHECK(served.answers[1].result_int() == 200);
  CHECK(served.answers[1].body() == "seen:body");
}

TEST_CASE("a header over the limit gets the front server's 400 and closes", "[session]") {
  FakeOwner owner;
  const SessionLimits limits;
  const std::string big(limits.header_bytes, 'x');
  const auto served = serve(owner, post("a", "X-Big: " + big + "\r\n") + post("b"), limits);
  REQUIRE(served.answers.size() == 1);
  CHECK(served.answers[0].result_int() == 400);
  CHECK(served.answers[0].body() ==
        R"({"ErrorCode":"ValidationError","Message":"request headers are larger than 16 KiB"})");
  CHECK_FALSE(served.answers[0].keep_alive());
  CHECK(owner.handled == 0);
  REQUIRE(owner.refusals.size() == 1);
  CHECK(owner.refusals[0].type == proto::ErrorType::validation);
  CHECK(owner.refusals[0].status == 400);
  CHECK(served.closed);
}

TEST_CASE("a body over the limit is refused on its Content-Length without a 100", "[session]") {
  FakeOwner owner;
  SessionLimits limits;
  limits.body_bytes = 4;
  const auto served = serve(owner, post("12345", "Expect: 100-continue\r\n"), limits);
  REQUIRE(served.answers.size() == 1);
  CHECK(served.answers[0].result_int() == 413);
  CHECK(served.answers[0].body() ==
        R"x({"ErrorCode":"ValidationError","Message":"request body is larger than )x"
        R"x(max_payload_mb (3.8147e-06 MiB, 4 bytes)"})x");
  REQUIRE(owner.refusals.size() == 1);
  CHECK(owner.refusals[0].type == proto::ErrorType::payload_too_large);
  CHECK(owner.refusals[0].status == 413);
  CHECK(owner.handled == 0);
  CHECK(served.closed);
}

TEST_CASE("a chunked body over the limit is refused as it arrives", "[session]") {
  FakeOwner owner;
  SessionLimits limits;
  limits.body_bytes = 4;
  const auto served = serve(owner,
                            "POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
                            limits);
  REQUIRE(served.answers.size() == 1);
  CHECK(served.answers[0].result_int() == 413);
  REQUIRE(owner.refusals.size() == 1);
  CHECK(owner.refusals[0].type == proto::ErrorType::payload_too_large);
}

TEST_CASE("framing tandem does not serve is refused on the header", "[session]") {
  FakeOwner owner;
  const auto served = serve(owner,
                            "POST /invocations HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                            "3\r\nabc\r\n0\r\n\r\n");
  REQUIRE(served.answers.size() == 1);
  CHECK(served.answers[0].result_int() == 501);
  REQUIRE(owner.refusals.size() == 1);
  CHECK(owner.refusals[0].type == proto::ErrorType::not_implemented);
  CHECK(served.closed);
}

TEST_CASE("a client that closes mid-body is told what arrived", "[session]") {
  FakeOwner owner;
  const auto served = serve(owner, "POST /invocations HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  REQUIRE(served.answers.size() == 1);
  CHECK(served.answers[0].result_int() == 400);
  CHECK(served.answers[0].body() ==
        R"({"ErrorCode":"ValidationError","Message":"malformed HTTP request: the body ended )"
        R"(after 3 of its 10 bytes"})");
  CHECK(owner.handled == 0);
  CHECK(served.closed);
}

TEST_CASE("a client that closes mid-header is not answered", "[session]") {
  FakeOwner owner;
  const auto served = serve(owner, "POST /invocations HTTP/1.1\r\nContent-Len");
  CHECK(served.answers.empty());
  CHECK(served.trailing == 0);
  CHECK(owner.handled == 0);
  CHECK(owner.refusals.empty());
  CHECK(served.finished);
  CHECK(served.closed);
}

TEST_CASE("a malformed request gets a 400 naming the parser's complaint", "[session]") {
  FakeOwner owner;
  const auto served = serve(owner, "POST /invocations HTTP/1.1\r\nContent-Length: x\r\n\r\n");
  REQUIRE(served.answers.size() == 1);
  CHECK(served.answers[0].result_int() == 400);
  CHECK(
      served.answers[0].body() ==
      R"({"ErrorCode":"ValidationError","Message":"malformed HTTP request: bad Content-Length"})");
}

TEST_CASE("a stream failing at any step ends the session without an answer it cannot send",
          "[session]") {
  const std::string input = post("a") + post("b", "Expect: 100-continue\r\n");
  const std::string failure = beast::error_code(beast::test::error::test_failure).message();
  bool completed = false;
  for (std::size_t step = 0; step < 32 && !completed; ++step) {
    CAPTURE(step);
    FakeOwner owner;
    const auto served = serve(owner, input, {}, step);
    CHECK(served.finished);
    CHECK(served.closed);
    // Once the stream fails every later operation fails too: nothing reaches the client after
    // the failure, and at most one refusal is attempted (a request begun is answered 400).
    CHECK(owner.refusals.size() <= 1);
    for (const auto& refusal : owner.refusals) {
      CHECK(refusal.type == proto::ErrorType::validation);
      CHECK(refusal.message == "malformed HTTP request: " + failure);
      CHECK(refusal.status == 400);
    }
    CHECK(owner.handled <= 2);
    CHECK(served.answers.size() <= static_cast<std::size_t>(owner.handled) + 1);
    completed = owner.handled == 2 && served.answers.size() == 3;
    if (step == 0) {
      // The first read fails: the client never began a request, so nothing is refused.
      CHECK(owner.refusals.empty());
      CHECK(owner.handled == 0);
    }
  }
  CHECK(completed);  // some step is beyond the last operation: both answered, with the 100
}

TEST_CASE("a failed read is refused by what it was", "[session]") {
  SessionLimits limits;
  limits.body_bytes = 1024 * 1024;
  limits.header_bytes = 8 * 1024;
  ReadProgress begun{.got_some = true};
  auto refusal = [&](beast::error_code ec, ReadProgress progress) {
    return read_error_refusal(ec, progress, limits);
  };

  auto body = refusal(http::error::body_limit, begun);
  REQUIRE(body);
  CHECK(body->type == proto::ErrorType::payload_too_large);
  CHECK(body->message == "request body is larger than max_payload_mb (1 MiB, 1048576 bytes)");

  auto header = refusal(http::error::header_limit, begun);
  REQUIRE(header);
  CHECK(header->type == proto::ErrorType::validation);
  CHECK(header->message == "request headers are larger than 8 KiB");

  auto framing = refusal(http::error::buffer_overflow, begun);
  REQUIRE(framing);
  CHECK(framing->message ==
        "malformed HTTP request: " + proto::http_framing::framing_overflow_message());

  auto chunked = refusal(http::error::partial_message,
                         {.got_some = true, .header_done = true, .body_received = 7});
  REQUIRE(chunked);
  CHECK(chunked->message ==
        "malformed HTTP request: the chunked body ended after 7 bytes, before its last chunk");

  auto bad = refusal(http::error::bad_method, begun);
  REQUIRE(bad);
  CHECK(bad->message == "malformed HTTP request: bad method");

  // Nobody to answer: gone, timed out, or nothing was ever sent.
  CHECK_FALSE(refusal(http::error::partial_message, begun));
  CHECK_FALSE(refusal(http::error::end_of_stream, {}));
  CHECK_FALSE(refusal(asio::error::eof, begun));
  CHECK_FALSE(refusal(asio::error::connection_reset, begun));
  CHECK_FALSE(refusal(beast::error::timeout, begun));
  CHECK_FALSE(refusal(asio::error::broken_pipe, {}));
  // A stream failing after the request began is answered, as a malformed request.
  auto broken = refusal(asio::error::broken_pipe, begun);
  REQUIRE(broken);
  CHECK(broken->type == proto::ErrorType::validation);
}

TEST_CASE("the spec's body limit and read timeout replace the defaults", "[session]") {
  spec::ServerSpec server;
  server.max_payload_bytes = 123;
  server.request_read_timeout = std::chrono::milliseconds(4500);
  const auto limits = SessionLimits{}.with(server);
  CHECK(limits.body_bytes == 123);
  CHECK(limits.read_timeout == std::chrono::milliseconds(4500));
  CHECK(limits.header_bytes == 16 * 1024);
  CHECK(limits.idle_timeout == std::chrono::seconds(60));
}

}  // namespace
}  // namespace tandem::server
