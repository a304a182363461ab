// Where an input object's output goes, and which host (shard) of a multi-host job takes it.
//
// Naming (adopted, see the contract): the output keeps the input's path relative to the input
// prefix: `in/sub/a.csv` under the prefix `in/` → `sub/a.csv.out`, its error report
// `sub/a.csv.out.errors`. The prefix counts up to its last "/": the prefix `in/da` selects
// `in/data.csv` → `data.csv.out`, as `in/` would.
//
// Sharding: every relative key belongs to exactly one of `count` shards, FNV-1a 64 of the key
// modulo count, so hosts that list the same input agree without talking to each other, and a
// key keeps its shard whatever the bucket or local folder it is read from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/transform/result.h"

namespace tandem::transform {

// The key relative to the prefix's folder; an error when the key is not under the prefix or
// is the folder itself (a "directory marker" object).
Result<std::string> relative_key(std::string_view key, std::string_view prefix);

// True when `relative_key`, joined under a folder or key prefix, names something below it
// on a file system too: not empty, not absolute, no NUL, no "." or ".." segment.
bool stays_below(std::string_view relative_key);

struct OutputKeys {
  std::string output;  // <relative>.out
  std::string errors;  // <relative>.out.errors
};
// Rejects relative keys that could leave the output location once it is a local folder (those
// not stays_below()).
Result<OutputKeys> output_keys(std::string_view relative_key);

// `location` + "/" + `key`, without doubling a trailing "/".
std::string join_location(std::string_view location, std::string_view key);

std::uint64_t fnv1a_64(std::string_view data);

inline constexpr std::uint32_t kMaxShardCount = 65536;

struct Shard {
  std::uint32_t index = 0;
  std::uint32_t count = 1;
  bool owns(std::string_view relative_key) const;
};

std::uint32_t shard_of(std::string_view relative_key, std::uint32_t count);

// Where the shard comes from, as raw text (the CLI's flags and the process environment).
// Index: --shard-index, else JOB_COMPLETION_INDEX (Kubernetes Indexed Job), else
// AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job). Count: --shard-count, else
// TANDEM_SHARD_COUNT (neither platform exports the count). Neither: one shard of one.
struct ShardSources {
  std::optional<std::string> index_flag;
  std::optional<std::string> count_flag;
  std::optional<std::string> job_completion_index;
  std::optional<std::string> aws_batch_job_array_index;
  std::optional<std::string> count_env;
};

// An index without a count (or a count without an index) is an error: a host that guessed
// would process keys another host also processes, or none at all.
Result<Shard> resolve_shard(const ShardSources& sources);

}  // namespace tandem::transform
