#include "pipeline/storage/object_store.h"

namespace tandem::storage {

// Out of line so the vtables live in one translation unit.
InputStream::~InputStream() = default;
OutputObject::~OutputObject() = default;
ObjectStore::~ObjectStore() = default;

Listing ObjectStore::list_with_skipped(const std::string& prefix) {
  return {list(prefix), {}};
}

std::vector<std::string> ObjectStore::remove_unfinished(const std::vector<std::string>&) {
  return {};
}

}  // namespace tandem::storage
