#include "pipeline/batch/store_calls.h"

#include <exception>
#include <utility>

namespace tandem::batch::store {

namespace {

// Any exception, as the runner caught before: a store may also throw std::bad_alloc or a
// std::runtime_error of its client library.
template <typename Call>
auto attempt(Call&& call) -> Result<decltype(call())> {
  try {
    return call();
  } catch (const std::exception& e) {
    return ObjectFailure::storage(e.what());
  }
}

template <typename Call>
Status attempt_void(Call&& call) {
  try {
    call();
    return {};
  } catch (const std::exception& e) {
    return ObjectFailure::storage(e.what());
  }
}

}  // namespace

Result<std::unique_ptr<storage::InputStream>> open(storage::ObjectStore& store,
                                                   const std::string& key) {
  return attempt([&] { return store.open(key); });
}

Result<std::size_t> read(storage::InputStream& stream, char* buffer, std::size_t size) {
  return attempt([&] { return stream.read(buffer, size); });
}

Result<std::unique_ptr<storage::OutputObject>> create(storage::ObjectStore& store,
                                                      const std::string& key) {
  return attempt([&] { return store.create(key); });
}

Status write(storage::OutputObject& output, std::string_view data) {
  return attempt_void([&] { output.write(data); });
}

Status commit(storage::OutputObject& output) {
  return attempt_void([&] { output.commit(); });
}

Status remove(storage::ObjectStore& store, const std::string& key) {
  return attempt_void([&] { store.remove(key); });
}

}  // namespace tandem::batch::store
