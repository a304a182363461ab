#include "tandem/proto/errors.h"

#include <nlohmann/json.hpp>

namespace tandem::proto {

namespace {
// A stage's 4xx is the client's fault as SageMaker words it; anything else, including a
// stage that never answered, is a server error.
bool is_client_error(int status) {
  return status >= 400 && status < 500;
}
}  // namespace

int to_http_status(ErrorType type) {
  switch (type) {
    case ErrorType::validation:
      return 400;
    case ErrorType::not_found:
      return 404;
    case ErrorType::method_not_allowed:
      return 405;
    case ErrorType::payload_too_large:
      return 413;
    case ErrorType::expectation_failed:
      return 417;
    case ErrorType::model:
      return 424;
    case ErrorType::model_not_ready:
      return 429;
    case ErrorType::internal:
      return 500;
    case ErrorType::not_implemented:
      return 501;
    case ErrorType::unavailable:
      return 503;
  }
  return 500;
}

std::string_view error_type_name(ErrorType type) {
  switch (type) {
    case ErrorType::validation:
    case ErrorType::not_found:
    case ErrorType::method_not_allowed:
    case ErrorType::payload_too_large:
    case ErrorType::expectation_failed:
    case ErrorType::not_implemented:
      return "ValidationError";
    case ErrorType::model:
      return "ModelError";
    case ErrorType::model_not_ready:
      return "ModelNotReadyException";
    case ErrorType::internal:
      return "InternalFailure";
    case ErrorType::unavailable:
      return "ServiceUnavailable";
  }
  return "InternalFailure";
}

std::string excerpt(std::string_view body, std::size_t limit) {
  std::string out;
  const std::size_t n = std::min(body.size(), limit);
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > limit) out += "...";
  return out;
}

Error Error::stage_status(StageFailure failure) {
  const char* kind = is_client_error(failure.original_status) ? "client" : "server";
  auto message = "Received " + std::string(kind) + " error (" +
                 std::to_string(failure.original_status) + ") from " + failure.container +
                 " (stage '" + failure.stage + "') with message \"" + failure.original_message +
                 "\". See " + failure.log_stream + " for more information.";
  return {ErrorType::model, std::move(message), std::move(failure), {}};
}

Error Error::stage_failed(StageFailure failure, std::string_view what) {
  auto message = "Received server error (0) from " + failure.container + " (stage '" +
                 failure.stage + "') with message \"" + std::string(what) + "\". See " +
                 failure.log_stream + " for more information.";
  failure.original_message = std::string(what);
  return {ErrorType::model, std::move(message), std::move(failure), {}};
}

std::string error_body(const Error& error) {
  nlohmann::json body;
  body["ErrorCode"] = std::string(error_type_name(error.type));
  body["Message"] = error.message;
  if (error.stage) {
    body["ErrorCode"] = is_client_error(error.stage->original_status) ? "CLIENT_ERROR_FROM_MODEL"
                                                                      : "SERVER_ERROR_FROM_MODEL";
    body["OriginalStatusCode"] = error.stage->original_status;
    body["OriginalMessage"] = error.stage->original_message;
    body["LogStreamArn"] = error.stage->log_stream;
    body["Stage"] = error.stage->stage;
    body["Container"] = error.stage->container;
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tandem::proto
