// The manifest of S3DataType ManifestFile:
//   [{"prefix": "s3://bucket/p/"}, "rel/a.csv", "rel/b.csv"]
// names the objects prefix + each entry (plain concatenation, as S3 keys are strings: a prefix
// without a trailing "/" joins as written). The relative entry is also the object's key for
// naming its output (`rel/a.csv` → `rel/a.csv.out`). Whether the object it names stays under
// the prefix's folder depends on the scheme (a file:// URI is percent-decoded), so the caller
// that opens the store checks it (batch/inputs.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/result.h"

namespace tandem::transform {

struct ManifestEntry {
  std::string uri;           // prefix + relative
  std::string relative_key;  // the entry as written
  std::size_t index = 0;     // its place in the manifest's array, for messages: "[3]"
};

// Every error is reported, one per line, naming the entry: `manifest.json: [3]: expected a
// string (a key relative to the prefix), got 5`. Entries must be non-empty strings; an empty
// list after the prefix is a manifest with no objects.
Result<std::vector<ManifestEntry>> parse_manifest(std::string_view json_text,
                                                  std::string_view source = "manifest");

}  // namespace tandem::transform
