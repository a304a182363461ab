// The errors tandem answers with, as values. Every error on the request path is an Error;
// it maps to an HTTP status, an x-amzn-ErrorType and a JSON body in exactly one place
// (to_http_status / error_body), in the shapes of the SageMaker runtime API so boto3 and
// the AWS CLI raise the exceptions their users already catch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "tandem/proto/result.h"

namespace tandem::proto {

enum class ErrorType {
  validation,          // 400 ValidationError: malformed request, bad headers
  not_found,           // 404 ValidationError: unknown route or endpoint name
  method_not_allowed,  // 405 ValidationError
  payload_too_large,   // 413 ValidationError: client body over max_payload_mb
  expectation_failed,  // 417 ValidationError: an Expect other than 100-continue
  model,               // 424 ModelError: a stage failed, timed out, or died
  model_not_ready,     // 429 ModelNotReadyException
  internal,            // 500 InternalFailure
  not_implemented,     // 501 ValidationError: a transfer coding other than chunked
  unavailable,         // 503 ServiceUnavailable: overload, a stage down, draining
};

// What a failing stage said, carried into a ModelError.
struct StageFailure {
  std::string stage;             // spec name, e.g. "featurize"
  std::string container;         // "container-2"
  int original_status = 0;       // the stage's HTTP status; 0 when it never answered
  std::string original_message;  // the start of its body, or what happened
  std::string log_stream;        // where its log lines go
};

struct Error {
  ErrorType type = ErrorType::internal;
  std::string message;
  std::optional<StageFailure> stage;  // set for ModelError
  std::optional<int> retry_after_s;   // sent as Retry-After
  std::optional<std::string> allow;   // sent as Allow with a 405

  static Error validation(std::string msg) {
    return {ErrorType::validation, std::move(msg), {}, {}};
  }
  static Error not_found(std::string msg) { return {ErrorType::not_found, std::move(msg), {}, {}}; }
  static Error method_not_allowed(std::string msg, std::string allow) {
    return {ErrorType::method_not_allowed, std::move(msg), {}, {}, std::move(allow)};
  }
  static Error payload_too_large(std::string msg) {
    return {ErrorType::payload_too_large, std::move(msg), {}, {}};
  }
  static Error expectation_failed(std::string msg) {
    return {ErrorType::expectation_failed, std::move(msg), {}, {}};
  }
  static Error not_implemented(std::string msg) {
    return {ErrorType::not_implemented, std::move(msg), {}, {}};
  }
  static Error internal(std::string msg) { return {ErrorType::internal, std::move(msg), {}, {}}; }
  static Error unavailable(std::string msg, int retry_after_s = 1) {
    return {ErrorType::unavailable, std::move(msg), {}, retry_after_s};
  }
  static Error model_not_ready(std::string msg, int retry_after_s = 1) {
    return {ErrorType::model_not_ready, std::move(msg), {}, retry_after_s};
  }
  // A stage answered with a non-2xx status.
  static Error stage_status(StageFailure failure);
  // A stage never answered: timeout, refused or reset connection, oversize body.
  static Error stage_failed(StageFailure failure, std::string_view what);
};

int to_http_status(ErrorType type);
std::string_view error_type_name(ErrorType type);  // the x-amzn-ErrorType value
std::string error_body(const Error& error);        // JSON

// The first `limit` bytes of a stage's body, made printable, for error messages.
std::string excerpt(std::string_view body, std::size_t limit = 512);

// A value or the Error that prevented it.
template <typename T>
using Result = tandem::Result<T, Error>;

}  // namespace tandem::proto
