// The pure HTTP side of a stage: maps a parsed HTTP request to the handler's Request, the
// handler's Response (or exception) to an HTTP response, and read errors to error responses.
// Nothing here touches a socket, so it is tested directly; server.cpp does the IO.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string_view>

#include "stages/sdk/stage.h"

namespace tandem::stage {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Routes one request: POST /invocations to `handler`, GET /ping to options.ping, anything
// else to 404/405. Never throws for anything the client or the handler does; keep-alive is
// left to the caller, which knows whether the server is stopping.
HttpResponse handle_request(HttpRequest&& request, const Handler& handler, const Options& options);

// The handler's view of an invocation; the body is moved out of `request`.
Request to_request(HttpRequest&& request);

// The handler's answer as HTTP; an answer that cannot be sent as given (a status outside
// 200-599, a header value with control characters) becomes a 500 saying so.
HttpResponse to_http_response(Response&& response, unsigned http_version);

// Calls the handler, mapping HttpError to its status and other exceptions to 500.
HttpResponse invoke(const Handler& handler, const Request& request, unsigned http_version);

// A text/plain response carrying `message` (no body for statuses that forbid one).
HttpResponse text_response(int status, std::string_view message, unsigned http_version);

// The answer owed to the client when reading its request failed: 413 over the body limit,
// 431 over the header limit, 400 for a malformed request; nothing when the peer left or
// timed out (no one to answer).
std::optional<HttpResponse> read_error_response(boost::beast::error_code error,
                                                const Options& options);

}  // namespace tandem::stage
