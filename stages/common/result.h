// The outcome of one request in a built-in stage (featurize, xgboost, postprocess): the reply,
// or the Failure the stage answers instead. Errors on the request path are values; only the
// stage's main.cpp turns a Failure into the SDK's HttpError (builtin_main.h: respond()).
#pragma once

#include <string>
#include <utility>

#include "tandem/proto/result.h"

namespace tandem::builtin {

// Why a request was refused: an HTTP status and a message that names the row and column.
struct Failure {
  int status = 400;
  std::string message;

  static Failure bad_request(std::string message) { return {400, std::move(message)}; }
  static Failure not_acceptable(std::string message) { return {406, std::move(message)}; }
  static Failure unsupported_media_type(std::string message) { return {415, std::move(message)}; }
  // The model library failed on input that passed validation: a defect, not the caller's fault.
  static Failure internal(std::string message) { return {500, std::move(message)}; }
};

// Success or the Failure that stopped it, for a step that produces nothing.
using Status = tandem::Result<void, Failure>;

// What a stage answers to an invocation that succeeded.
struct Reply {
  std::string body;
  std::string content_type;
};

// A value or the Failure that prevented it.
template <typename T>
using Result = tandem::Result<T, Failure>;

}  // namespace tandem::builtin
