// Why an object of a transform job has no `.out`: the failure's kind, with the one SageMaker
// name each kind is written as (the `.out.errors` line's "error", the report's "Error"), and
// where in the object it happened. Every ObjectFailure is made by one of the named
// constructors below, so a kind is never spelled by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/transform/batcher.h"
#include "tandem/proto/errors.h"

namespace tandem::batch {

enum class FailureKind {
  storage,          // StorageError: the object store failed to read or write
  input,            // InputError: the input could not be inflated, split or filtered
  data_processing,  // DataProcessingError: OutputFilter or the join failed on an answer
  model,            // ModelError: a stage failed, timed out, or died
  validation,       // ValidationError: the chain refused the request
  model_not_ready,  // ModelNotReadyException
  internal,         // InternalFailure
  unavailable,      // ServiceUnavailable: a stage down or restarting
};

// The SageMaker name: "StorageError", "InputError", "DataProcessingError", "ModelError", ...
std::string_view sagemaker_name(FailureKind kind);

// The kind of a failed chain call: the same name proto::error_type_name gives its type.
FailureKind failure_kind(proto::ErrorType type);

struct ObjectFailure {
  std::optional<std::uint64_t> first_record;  // the failed request's records, when known
  std::uint64_t record_count = 0;
  std::optional<std::uint64_t> byte_offset;
  std::string stage;      // empty when no stage was involved (reading, splitting, writing)
  std::string container;  // "container-N"
  int status = 0;         // the stage's HTTP status; 0 when it never answered
  FailureKind kind = FailureKind::internal;
  std::string message;
  int attempts = 0;

  std::string_view error() const { return sagemaker_name(kind); }

  // Reading or writing the object store failed (the store's message names the URI).
  static ObjectFailure storage(std::string message);
  // The input could not be inflated, split or filtered.
  static ObjectFailure input(std::string message);
  // The chain call for `batch` failed after `attempts` attempts.
  static ObjectFailure call(const transform::Batch& batch, const proto::Error& error, int attempts);
  // The first stage answered a streamed object before all of it was sent.
  static ObjectFailure answered_early(const transform::Batch& batch);
  // OutputFilter or the join failed on the answer to `batch`.
  static ObjectFailure data_processing(const transform::Batch& batch, std::string message);
};

}  // namespace tandem::batch
