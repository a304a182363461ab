// The pure half of the front server: which route a request names, how its headers become
// an Invocation, and how a result or an error becomes an HTTP response. No sockets here
// (as in Beast's handle_request); front_server.cpp does the IO.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>

#include "pipeline/chain/invocation.h"
#include "pipeline/spec/spec.h"
#include "tandem/proto/errors.h"

namespace tandem::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

enum class Route { ping, invocations, execution_parameters, metrics };

// The route of a request, or a 404/405 ValidationError naming what was asked.
proto::Result<Route> match_route(http::verb method, std::string_view target,
                                 const std::string& endpoint_name);

// Whether tandem serves the framing a request's header asks for, checked before its body is
// read: a transfer coding other than chunked is refused (501), an Expect other than
// 100-continue too (417).
tandem::Status<proto::Error> check_framing(const http::request_header<>& header);

// Headers and body of an invocation request, validated. `generate_id` supplies an inference
// id when the client sent none.
proto::Result<chain::Invocation> parse_invocation(Request& request, std::string generated_id);

// "featurize;dur=0.312, model;dur=1.204, overhead;dur=0.051, total;dur=1.567" (milliseconds).
std::string server_timing(const chain::InvocationResult& result);

Response success_response(chain::InvocationResult& result, const std::string& request_id,
                          unsigned version);
Response error_response(const proto::Error& error, const std::string& request_id, unsigned version);

// The answer to GET /execution-parameters: the spec's values, else the first stage's
// answer (JSON text, may be absent or malformed; ignored whole when malformed or nested deeper
// than proto::json::max_depth), else SageMaker's defaults (1, MULTI_RECORD, 6).
std::string execution_parameters(const spec::ExecutionParameters& from_spec,
                                 const std::optional<std::string>& first_stage_answer);

std::string random_request_id();  // a UUID v4

// Whether `value` is a W3C Trace Context traceparent tandem passes on: version 00 exactly
// (`00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`) or a later version's longer
// form, lowercase hex, ids not all zero, version not ff. An invalid one is dropped, as the
// specification asks of a receiver, never an error.
bool valid_traceparent(std::string_view value);

}  // namespace tandem::server
