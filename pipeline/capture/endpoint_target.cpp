// The remote replay target: POST each event to a running SageMaker-compatible endpoint, one
// connection per request, with a deadline.
#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <stdexcept>

#include "pipeline/capture/replay_target.h"
#include "tandem/proto/headers.h"
#include "tandem/proto/http_framing.h"

namespace tandem::capture {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMaxAnswerBytes = 100ull * 1024 * 1024;

struct Url {
  std::string host;
  std::string port;
  std::string target;
};

Url parse_url(const std::string& url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) {
    throw std::invalid_argument(fmt::format(
        "--endpoint \"{}\": expected http://HOST:PORT[/PATH] (https is not supported)", url));
  }
  const std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  Url parsed;
  parsed.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (parsed.target == "/") parsed.target = "/invocations";
  const auto colon = authority.rfind(':');
  const bool bracketed = authority.starts_with('[');
  if (colon != std::string::npos && (!bracketed || authority[colon - 1] == ']')) {
    parsed.host = authority.substr(0, colon);
    parsed.port = authority.substr(colon + 1);
  } else {
    parsed.host = authority;
    parsed.port = "80";
  }
  if (bracketed && parsed.host.size() >= 2)
    parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
  int port = 0;
  const auto [end, error] =
      std::from_chars(parsed.port.data(), parsed.port.data() + parsed.port.size(), port);
  if (parsed.host.empty() || error != std::errc{} ||
      end != parsed.port.data() + parsed.port.size() || port <= 0 || port > 65535) {
    throw std::invalid_argument(
        fmt::format("--endpoint \"{}\": expected http://HOST:PORT[/PATH]", url));
  }
  return parsed;
}

class EndpointTarget final : public ReplayTarget {
 public:
  EndpointTarget(asio::any_io_executor executor, std::string url, std::chrono::milliseconds timeout)
      : executor_(executor), url_(std::move(url)), parsed_(parse_url(url_)), timeout_(timeout) {}

  asio::awaitable<void> start() override {
    beast::error_code ec;
    asio::ip::tcp::resolver resolver(executor_);
    auto results = co_await resolver.async_resolve(parsed_.host, parsed_.port,
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) throw std::runtime_error(fmt::format("{}: cannot resolve: {}", url_, ec.message()));
    endpoints_.assign(results.begin(), results.end());
  }

  asio::awaitable<Reply> send(const Event& event, bool) override {
    const auto started = Clock::now();
    Reply reply;
    beast::error_code ec;
    beast::tcp_stream stream(executor_);
    stream.expires_after(timeout_);
    co_await stream.async_connect(endpoints_, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      reply.failure = fmt::format("cannot connect to {}: {}", url_, ec.message());
      co_return reply;
    }
    http::request<http::string_body> request{http::verb::post, parsed_.target, 11};
    request.set(http::field::host, parsed_.host + ":" + parsed_.port);
    if (event.input && !event.input->content_type.empty())
      request.set(http::field::content_type, event.input->content_type);
    if (event.accept) request.set(http::field::accept, *event.accept);
    if (event.custom_attributes)
      request.set(proto::header::custom_attributes, *event.custom_attributes);
    request.set(proto::header::inference_id, replay_inference_id(event));
    request.body() = event.input ? event.input->data : std::string();
    request.keep_alive(false);
    request.prepare_payload();
    co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
    // Capped (http_framing.h): the endpoint's chunk headers and trailers cannot grow it, nor
    // make Beast throw.
    auto buffer = proto::http_framing::make_read_buffer();
    buffer.reserve(proto::http_framing::kReadBufferLimit);
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    if (!ec) {
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
    }
    reply.total = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    if (ec) {
      reply.failure = fmt::format("{}: {}", url_,
                                  ec == beast::error::timeout ? "timed out"
                                  : proto::http_framing::is_framing_overflow(ec)
                                      ? proto::http_framing::framing_overflow_message()
                                      : ec.message());
      co_return reply;
    }
    auto& response = parser.get();
    reply.status = static_cast<int>(response.result_int());
    const auto content_type = response[http::field::content_type];
    reply.content_type.assign(content_type.data(), content_type.size());
    reply.body = std::move(response.body());
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    co_return reply;
  }

  asio::awaitable<void> stop() override { co_return; }

  std::string describe() const override { return "the endpoint at " + url_; }

 private:
  asio::any_io_executor executor_;
  std::string url_;
  Url parsed_;
  std::chrono::milliseconds timeout_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
};

}  // namespace

std::unique_ptr<ReplayTarget> make_endpoint_target(asio::any_io_executor executor,
                                                   const std::string& url,
                                                   std::chrono::milliseconds timeout) {
  return std::make_unique<EndpointTarget>(executor, url, timeout);
}

}  // namespace tandem::capture
