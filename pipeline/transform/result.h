// Errors as values for the batch-transform core. Transform errors are job errors (reported in
// the job's status and in `<name>.out.errors`), not HTTP answers, so they carry only a message
// that names where the problem is (record index, byte offset, JSON path) and no HTTP mapping;
// this keeps the module free of proto/Boost (it links only tandem_result). The first error stops
// the object it concerns.
#pragma once

#include <string>

#include "tandem/proto/result.h"

namespace tandem::transform {

struct Error {
  std::string message;
};

// A value or the Error that prevented it.
template <typename T>
using Result = tandem::Result<T, Error>;

// Success or an Error, for steps that produce nothing.
using Status = tandem::Result<void, Error>;

}  // namespace tandem::transform
