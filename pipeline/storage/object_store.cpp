#include "pipeline/storage/object_store.h"

namespace tandem::storage {

// Out of line so the vtables live in one translation unit.
InputStream::~InputStream() = default;
OutputObject::~OutputObject() = default;
ObjectStore::~ObjectStore() = default;

}  // namespace tandem::storage
