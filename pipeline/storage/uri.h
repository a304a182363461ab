// Storage URIs taken apart, without touching the file system or the network.
#pragma once

#include <string>

namespace tandem::storage {

struct StorageUri {
  enum class Scheme { kLocal, kS3 };
  Scheme scheme = Scheme::kLocal;
  std::string bucket;  // S3 only
  std::string path;    // S3: the key prefix (may be empty); local: the file system path
};

// `s3://bucket[/prefix]`, `file:///abs/path` (percent-escapes decoded; host empty or
// localhost) or a plain path. Throws StorageError naming the URI for anything else.
StorageUri parse_storage_uri(const std::string& uri);

}  // namespace tandem::storage
