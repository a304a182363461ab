// The object-store calls a transform job makes, as values: storage::ObjectStore and its
// streams throw, and this is the one place the batch module catches that and turns it into a
// StorageError ObjectFailure carrying the store's message (which names the URI). The reader
// and the commit then handle a storage failure like any other failure of the object.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "pipeline/batch/failure.h"
#include "pipeline/storage/object_store.h"
#include "tandem/proto/result.h"

namespace tandem::batch::store {

template <typename T>
using Result = tandem::Result<T, ObjectFailure>;
using Status = tandem::Status<ObjectFailure>;

Result<std::unique_ptr<storage::InputStream>> open(storage::ObjectStore& store,
                                                   const std::string& key);
// How many bytes were read into `buffer`; 0 at the end.
Result<std::size_t> read(storage::InputStream& stream, char* buffer, std::size_t size);
Result<std::unique_ptr<storage::OutputObject>> create(storage::ObjectStore& store,
                                                      const std::string& key);
Status write(storage::OutputObject& output, std::string_view data);
Status commit(storage::OutputObject& output);
Status remove(storage::ObjectStore& store, const std::string& key);

}  // namespace tandem::batch::store
