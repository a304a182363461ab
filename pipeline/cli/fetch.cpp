#include "pipeline/cli/fetch.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

#include "pipeline/storage/object_store.h"

namespace tandem::cli {

namespace {

namespace fs = std::filesystem;

// The path below `root` that `relative` names, or an empty path when it would leave `root`.
fs::path inside(const fs::path& root, std::string_view relative) {
  const fs::path path = fs::path(relative).lexically_normal();
  if (relative.empty() || path.is_absolute() || path.empty() || *path.begin() == "..") return {};
  return root / path;
}

void copy_object(storage::ObjectStore& store, const std::string& key, const fs::path& file) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  const fs::path partial = file.string() + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) throw storage::StorageError(fmt::format("{}: cannot create", partial.string()));
    auto in = store.open(key);
    std::vector<char> buffer(1 << 20);
    while (const std::size_t n = in->read(buffer.data(), buffer.size())) {
      out.write(buffer.data(), static_cast<std::streamsize>(n));
      if (!out) throw storage::StorageError(fmt::format("{}: write failed", partial.string()));
    }
    out.close();
    if (!out) throw storage::StorageError(fmt::format("{}: write failed", partial.string()));
  }
  // Complete or absent: a reader never sees half an object under its name.
  fs::rename(partial, file);
}

}  // namespace

int fetch(const std::string& source, const std::string& destination) {
  try {
    auto location = storage::open_location(source);
    const auto objects = location.store->list(location.prefix);
    if (objects.empty()) {
      throw storage::StorageError(fmt::format("{}: no object there", source));
    }
    for (const auto& object : objects) {
      if (object.key == location.prefix && !object.key.empty()) {
        // Into an existing folder, under its own name (as cp does).
        fs::path file = destination;
        if (fs::is_directory(file)) file /= fs::path(object.key).filename();
        copy_object(*location.store, object.key, file);
        return 0;
      }
    }
    // A prefix: what lies under it as a folder, relative to it.
    std::string folder = location.prefix;
    if (!folder.empty() && folder.back() != '/') folder += '/';
    std::size_t copied = 0;
    for (const auto& object : objects) {
      if (object.key.compare(0, folder.size(), folder) != 0) continue;  // `in/da` + `in/data`
      const std::string relative = object.key.substr(folder.size());
      if (relative.empty() || relative.back() == '/') continue;  // a folder marker
      const fs::path file = inside(destination, relative);
      if (file.empty()) {
        throw storage::StorageError(fmt::format("{}: the key \"{}\" would be written outside {}",
                                                source, object.key, destination));
      }
      copy_object(*location.store, object.key, file);
      ++copied;
    }
    if (copied == 0) {
      throw storage::StorageError(fmt::format("{}: no object there (nor under {}{})", source,
                                              source, source.back() == '/' ? "" : "/"));
    }
    return 0;
  } catch (const storage::StorageError& error) {
    std::fprintf(stderr, "tandem fetch: %s\n", error.what());
  } catch (const fs::filesystem_error& error) {
    std::fprintf(stderr, "tandem fetch: %s\n", error.what());
  }
  return 1;
}

}  // namespace tandem::cli
