// Where an input object's output goes, and which host (shard) of a multi-host job takes it.
//
// Naming: the output keeps the input's key relative to the input prefix, whether or not the
// prefix ends in "/" (what SageMaker writes: docs/transform.md has the evidence). The prefix
// `in/` or `in` selects `in/sub/a.csv` → `sub/a.csv.out`, its error report
// `sub/a.csv.out.errors`. Where the prefix ends inside a key's segment, that whole segment is
// kept (adopted): `in/da` selects `in/data.csv` → `data.csv.out` and `in/dat/b.csv` →
// `dat/b.csv.out`; a prefix that is a whole key (one object) names it by its last segment.
//
// Sharding: every relative key belongs to exactly one of `count` shards, FNV-1a 64 of the key
// modulo count, so hosts that list the same input agree without talking to each other, and a
// key keeps its shard whatever the bucket or local folder it is read from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/result.h"

namespace tandem::transform {

// The key relative to the prefix, by the rule above; an error when the key is not under the
// prefix or is the folder the prefix names (a "directory marker" object).
Result<std::string> relative_key(std::string_view key, std::string_view prefix);

// One input of a job as planned: its URI (for messages) and its relative key.
struct NamedInput {
  std::string_view uri;
  std::string_view relative;
};

// An error when two inputs have one relative key, and so would write one output: a manifest
// that lists an entry twice, or a prefix without "/" that names a folder and ends inside
// other keys' segments (`in/sub` selects `in/sub/subway/a.csv` and `in/subway/a.csv`, both
// `subway/a.csv`). Names the first kMaxClashesNamed clashes, one per line:
// `s3://b/in/sub/subway/a.csv and s3://b/in/subway/a.csv would both write "subway/a.csv.out"`.
inline constexpr std::size_t kMaxClashesNamed = 10;
Status check_distinct_outputs(const std::vector<NamedInput>& inputs);

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
