#include "stages/sdk/http.h"

#include <fmt/format.h>

#include <boost/beast/http/error.hpp>
#include <string>

#include "tandem/proto/headers.h"
#include "tandem/proto/http_session.h"

namespace tandem::stage {
namespace http = boost::beast::http;

namespace {

// Longest client-supplied text (a path) quoted back in an error message.
constexpr std::size_t max_quoted = 200;

bool valid_status(int status) {
  return status >= 200 && status <= 599;
}

// A header value with CR, LF or NUL would split the response (header injection).
bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

template <typename Name>
std::string header(const HttpRequest& request, Name name) {
  return std::string(request[name]);
}

HttpResponse method_not_allowed(std::string_view path, std::string_view allowed, unsigned version) {
  auto response = text_response(
      405, fmt::format("{} accepts only {}", path.substr(0, max_quoted), allowed), version);
  response.set(http::field::allow, allowed);
  return response;
}

HttpResponse answer_ping(const Options& options, unsigned version) {
  std::string failure = "stage is not healthy";
  try {
    if (!options.ping || options.ping()) {
      HttpResponse response{http::status::ok, version};
      response.prepare_payload();
      return response;
    }
  } catch (const std::exception& error) {
    failure = fmt::format("stage health check failed: {}", error.what());
  }
  return text_response(options.unhealthy_status, failure, version);
}

}  // namespace

HttpResponse text_response(int status, std::string_view message, unsigned version) {
  HttpResponse response;
  response.version(version);
  response.result(static_cast<unsigned>(valid_status(status) ? status : 500));
  // 204 and 304 answers may not carry a body (Beast refuses to prepare one).
  if (response.result() != http::status::no_content &&
      response.result() != http::status::not_modified) {
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = message;
  }
  response.prepare_payload();
  return response;
}

Request to_request(HttpRequest&& request) {
  Request result;
  result.content_type = header(request, http::field::content_type);
  result.accept = header(request, http::field::accept);
  result.custom_attributes = header(request, proto::header::custom_attributes);
  result.inference_id = header(request, proto::header::inference_id);
  result.traceparent = header(request, "traceparent");
  result.body = std::move(request.body());
  return result;
}

HttpResponse to_http_response(Response&& response, unsigned version) {
  if (!valid_status(response.status)) {
    return text_response(
        500, fmt::format("stage handler returned invalid HTTP status {}", response.status),
        version);
  }
  if (!valid_header_value(response.content_type) ||
      !valid_header_value(response.custom_attributes.value_or(""))) {
    return text_response(500, "stage handler returned a header value with control characters",
                         version);
  }
  if (response.status == 204 || response.status == 304) response.body.clear();

  HttpResponse result{static_cast<http::status>(response.status), version};
  if (!response.content_type.empty()) {
    result.set(http::field::content_type, response.content_type);
  }
  if (response.custom_attributes) {
    result.set(proto::header::custom_attributes, *response.custom_attributes);
  }
  result.body() = std::move(response.body);
  result.prepare_payload();
  return result;
}

HttpResponse invoke(const Handler& handler, const Request& request, unsigned version) {
  try {
    return to_http_response(handler(request), version);
  } catch (const HttpError& error) {
    return text_response(error.status(), error.what(), version);
  } catch (const std::exception& error) {
    return text_response(500, error.what(), version);
  } catch (...) {
    return text_response(500, "stage handler threw a non-standard exception", version);
  }
}

HttpResponse handle_request(HttpRequest&& request, const Handler& handler, const Options& options) {
  const unsigned version = request.version();
  const std::string_view path = path_of(request.target());
  if (path == "/invocations") {
    if (request.method() != http::verb::post) return method_not_allowed(path, "POST", version);
    return invoke(handler, to_request(std::move(request)), version);
  }
  if (path == "/ping") {
    if (request.method() != http::verb::get) return method_not_allowed(path, "GET", version);
    return answer_ping(options, version);
  }
  return text_response(404,
                       fmt::format("no route for {}: a stage serves GET /ping and "
                                   "POST /invocations",
                                   path.substr(0, max_quoted)),
                       version);
}

std::optional<HttpResponse> read_error_response(boost::beast::error_code error,
                                                const Options& options) {
  constexpr unsigned version = 11;
  using proto::http_session::ReadFailure;
  // HTTP/1.1 is assumed: the request line may not even have been read. Whether the header was
  // complete does not matter here: a body cut short is a client gone like any other.
  switch (proto::http_session::sort_read_error(error, false)) {
    case ReadFailure::body_too_large:
      return text_response(
          413,
          fmt::format("request body exceeds the stage's limit of {} bytes", options.max_body_bytes),
          version);
    case ReadFailure::header_too_large:
      return text_response(431, "request header fields too large", version);
    case ReadFailure::framing_too_large:
    case ReadFailure::malformed:
      return text_response(400, fmt::format("malformed HTTP request: {}", error.message()),
                           version);
    case ReadFailure::peer_left:
    case ReadFailure::body_cut_short:
    case ReadFailure::timed_out:
    case ReadFailure::stream_failed:
      break;  // no one to answer
  }
  return std::nullopt;
}

}  // namespace tandem::stage
