#include "pipeline/transform/naming.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace tandem::transform {
namespace {

constexpr std::uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr std::size_t kMaxDigits = 9;

struct NamedValue {
  std::string_view name;  // "--shard-index", "JOB_COMPLETION_INDEX", ...
  std::string_view text;
};

std::optional<NamedValue> first_present(
    std::initializer_list<std::pair<std::string_view, const std::optional<std::string>*>> options) {
  for (const auto& [name, value] : options) {
    if (value->has_value()) return NamedValue{name, **value};
  }
  return std::nullopt;
}

Result<std::uint32_t> parse_count_or_index(const NamedValue& value) {
  const bool digits = !value.text.empty() && value.text.size() <= kMaxDigits &&
                      std::all_of(value.text.begin(), value.text.end(), [](char c) {
                        return std::isdigit(static_cast<unsigned char>(c)) != 0;
                      });
  if (!digits) {
    return Error{fmt::format("{}: expected a whole number, got \"{}\"", value.name, value.text)};
  }
  return static_cast<std::uint32_t>(std::stoul(std::string(value.text)));
}

bool has_dot_segment(std::string_view key) {
  while (true) {
    const std::size_t slash = key.find('/');
    const std::string_view segment = key.substr(0, slash);
    if (segment == "." || segment == "..") return true;
    if (slash == std::string_view::npos) return false;
    key.remove_prefix(slash + 1);
  }
}

}  // namespace

Result<std::string> relative_key(std::string_view key, std::string_view prefix) {
  if (!key.starts_with(prefix)) {
    return Error{fmt::format("key \"{}\" is not under the prefix \"{}\"", key, prefix)};
  }
  std::size_t cut = prefix.size();  // a prefix ending in "/" (or empty): what follows it
  if (!prefix.empty() && !prefix.ends_with('/')) {
    if (key.size() > prefix.size() && key[prefix.size()] == '/') {
      ++cut;  // the prefix names a folder of this key: what follows that folder
    } else {
      const std::size_t folder_end = prefix.rfind('/');  // it ends inside a segment: keep it
      cut = folder_end == std::string_view::npos ? 0 : folder_end + 1;
    }
  }
  if (key.size() == cut) {
    return Error{fmt::format("key \"{}\" is the folder the prefix names, not an object", key)};
  }
  return std::string(key.substr(cut));
}

Status check_distinct_outputs(const std::vector<NamedInput>& inputs) {
  std::unordered_map<std::string_view, std::string_view> first_uri;  // relative key → URI
  first_uri.reserve(inputs.size());
  std::string clashes;
  std::size_t count = 0;
  for (const NamedInput& input : inputs) {
    const auto [first, inserted] = first_uri.emplace(input.relative, input.uri);
    if (inserted) continue;
    if (++count <= kMaxClashesNamed) {
      clashes += fmt::format("{}{} and {} would both write \"{}.out\"", clashes.empty() ? "" : "\n",
                             first->second, input.uri, input.relative);
    }
  }
  if (count == 0) return Status::success();
  if (count > kMaxClashesNamed) {
    clashes += fmt::format("\n... and {} more", count - kMaxClashesNamed);
  }
  return Error{std::move(clashes)};
}

bool stays_below(std::string_view relative_key) {
  return !relative_key.empty() && relative_key.front() != '/' && !has_dot_segment(relative_key) &&
         relative_key.find('\0') == std::string_view::npos;
}

Result<OutputKeys> output_keys(std::string_view relative_key) {
  if (!stays_below(relative_key)) {
    return Error{fmt::format(
        "cannot name the output of \"{}\": an empty or absolute key, or a \".\" or \"..\" "
        "segment, could write outside the output location",
        relative_key)};
  }
  const std::string output = fmt::format("{}.out", relative_key);
  return OutputKeys{output, output + ".errors"};
}

std::string join_location(std::string_view location, std::string_view key) {
  if (location.empty() || location.ends_with('/')) return fmt::format("{}{}", location, key);
  return fmt::format("{}/{}", location, key);
}

std::uint64_t fnv1a_64(std::string_view data) {
  std::uint64_t hash = kFnvOffsetBasis;
  for (const char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

std::uint32_t shard_of(std::string_view relative_key, std::uint32_t count) {
  return count <= 1 ? 0 : static_cast<std::uint32_t>(fnv1a_64(relative_key) % count);
}

bool Shard::owns(std::string_view relative_key) const {
  return shard_of(relative_key, count) == index;
}

Result<Shard> resolve_shard(const ShardSources& sources) {
  const std::optional<NamedValue> index =
      first_present({{"--shard-index", &sources.index_flag},
                     {"JOB_COMPLETION_INDEX", &sources.job_completion_index},
                     {"AWS_BATCH_JOB_ARRAY_INDEX", &sources.aws_batch_job_array_index}});
  const std::optional<NamedValue> count = first_present(
      {{"--shard-count", &sources.count_flag}, {"TANDEM_SHARD_COUNT", &sources.count_env}});
  if (!index && !count) return Shard{};
  if (!count) {
    return Error{fmt::format("{} {} needs a shard count: --shard-count or TANDEM_SHARD_COUNT",
                             index->name, index->text)};
  }
  if (!index) {
    return Error{
        fmt::format("{} {} needs a shard index: --shard-index, JOB_COMPLETION_INDEX or "
                    "AWS_BATCH_JOB_ARRAY_INDEX",
                    count->name, count->text)};
  }
  Result<std::uint32_t> count_value = parse_count_or_index(*count);
  if (!count_value) return count_value.error();
  if (*count_value < 1 || *count_value > kMaxShardCount) {
    return Error{
        fmt::format("{}: expected 1 to {}, got {}", count->name, kMaxShardCount, *count_value)};
  }
  Result<std::uint32_t> index_value = parse_count_or_index(*index);
  if (!index_value) return index_value.error();
  if (*index_value >= *count_value) {
    return Error{fmt::format("{} {} is not below {} {}", index->name, *index_value, count->name,
                             *count_value)};
  }
  return Shard{*index_value, *count_value};
}

}  // namespace tandem::transform
