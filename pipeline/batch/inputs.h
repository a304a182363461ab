// The objects a transform job reads and the keys it writes, resolved from the job's input
// (an S3Prefix or a ManifestFile) and output locations, with the host's shard and --resume
// applied. Talks to the object stores (blocking); the naming rules themselves are the pure
// ones of transform/naming.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/batch/report.h"
#include "pipeline/storage/object_store.h"
#include "pipeline/transform/job.h"
#include "pipeline/transform/naming.h"

namespace tandem::batch {

struct InputObject {
  storage::ObjectStore* store = nullptr;  // owned by the InputPlan
  std::string key;                        // within `store`
  std::string uri;                        // for messages and the report
  std::string relative;                   // the key relative to the input prefix (naming.h)
  std::uint64_t size = 0;                 // as listed (compressed size for Gzip)
  std::string output_key;                 // within the output store: <prefix><relative>.out
  std::string errors_key;                 // <prefix><relative>.out.errors
  std::string output_uri;
};

struct InputPlan {
  std::vector<std::unique_ptr<storage::ObjectStore>> input_stores;
  std::unique_ptr<storage::ObjectStore> output_store;
  std::string output_uri;            // as given, with a trailing '/'
  std::vector<InputObject> objects;  // this shard's, not yet done, in key order
  std::size_t listed = 0;            // every object the input names
  std::size_t other_shards = 0;      // left to other hosts
  std::vector<std::string> resumed;  // relative keys skipped by --resume: `.out` exists
  // With --resume: the temporary files a killed run left for this shard's outputs, removed.
  std::vector<std::string> removed_leftovers;
  LeftOut left_out;  // links, special files, the output folder's objects
};

// Lists the input (following the manifest for ManifestFile), keeps this shard's objects and,
// with `resume`, drops those whose `.out` exists and removes the temporary files a killed run
// left for this shard's outputs (no other shard writes those; a failure to remove is only
// logged). A prefix's listing never follows a symbolic link and leaves out the output folder
// when it lies inside the input (both kept in `left_out`); a manifest entry that leads outside
// its prefix's folder, percent-decoded for a file:// prefix, and two inputs that would write
// one output (named, whatever their shards) fail the plan. Throws storage::StorageError or
// std::runtime_error with a message naming the URI, manifest entry or key at fault.
InputPlan plan_inputs(const transform::TransformJob& job, const transform::Shard& shard,
                      bool resume);

}  // namespace tandem::batch
