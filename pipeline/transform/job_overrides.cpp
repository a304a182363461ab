// Command-line overrides of a transform job, checked with the same rules as the request.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>

#include "pipeline/transform/job.h"
#include "pipeline/transform/json_fields.h"

namespace tandem::transform {
namespace {

constexpr std::size_t kMaxUriLength = 1024;
constexpr std::size_t kMaxMimeTypeLength = 256;
constexpr std::size_t kMaxEnvironmentValueLength = 10240;

class OverrideReader {
 public:
  std::vector<std::string> errors;

  void text(const std::optional<std::string>& value, std::string_view flag, std::size_t max,
            std::string& out) {
    if (!value) return;
    if (value->size() > max) {
      errors.push_back(fmt::format("{}: longer than {} characters ({})", flag, max, value->size()));
      return;
    }
    out = *value;
  }
  void text(const std::optional<std::string>& value, std::string_view flag, std::size_t max,
            std::optional<std::string>& out) {
    if (!value) return;
    std::string checked;
    const std::size_t before = errors.size();
    text(value, flag, max, checked);
    if (errors.size() == before) out = std::move(checked);
  }

  template <typename Enum, std::size_t N, typename Parse>
  void choice(const std::optional<std::string>& value, std::string_view flag,
              const std::array<std::string_view, N>& names, Parse parse, Enum& out) {
    if (!value) return;
    if (Status checked = check_one_of(*value, names); !checked) {
      errors.push_back(fmt::format("{}: {}", flag, checked.error().message));
      return;
    }
    out = *parse(*value);
  }

  void integer(const std::optional<std::int64_t>& value, std::string_view flag, std::int64_t min,
               std::int64_t max, std::optional<std::int64_t>& out) {
    if (!value) return;
    if (Status checked = check_integer_range(*value, min, max); !checked) {
      errors.push_back(fmt::format("{}: {}", flag, checked.error().message));
      return;
    }
    out = *value;
  }

  void environment(const std::vector<std::pair<std::string, std::string>>& entries,
                   TransformJob& job) {
    for (const auto& [key, value] : entries) {
      if (!is_environment_key(key)) {
        errors.push_back(
            fmt::format("--env: expected a key matching [a-zA-Z_][a-zA-Z0-9_]{{0,1023}}, "
                        "got \"{}\"",
                        key));
        continue;
      }
      if (value.size() > kMaxEnvironmentValueLength) {
        errors.push_back(fmt::format("--env {}: longer than {} characters ({})", key,
                                     kMaxEnvironmentValueLength, value.size()));
        continue;
      }
      auto same_key = [&wanted = key](const auto& entry) { return entry.first == wanted; };
      auto found = std::find_if(job.environment.begin(), job.environment.end(), same_key);
      if (found != job.environment.end()) {
        found->second = value;
      } else {
        job.environment.emplace_back(key, value);
      }
    }
    if (job.environment.size() > kMaxEnvironmentEntries) {
      errors.push_back(fmt::format("--env: at most {} environment variables, got {}",
                                   kMaxEnvironmentEntries, job.environment.size()));
    }
  }
};

void apply_input_overrides(OverrideReader& reader, const JobOverrides& overrides,
                           TransformJob& job) {
  reader.text(overrides.input_uri, "--input", kMaxUriLength, job.input.uri);
  reader.choice(overrides.s3_data_type, "--s3-data-type", kS3DataTypeNames, parse_s3_data_type,
                job.input.data_type);
  reader.text(overrides.content_type, "--content-type", kMaxMimeTypeLength, job.input.content_type);
  reader.choice(overrides.compression_type, "--compression", kCompressionTypeNames,
                parse_compression_type, job.input.compression);
  reader.choice(overrides.split_type, "--split-type", kSplitTypeNames, parse_split_type,
                job.input.split_type);
}

void apply_output_overrides(OverrideReader& reader, const JobOverrides& overrides,
                            TransformJob& job) {
  reader.text(overrides.output_path, "--output", kMaxUriLength, job.output.path);
  reader.text(overrides.accept, "--accept", kMaxMimeTypeLength, job.output.accept);
  reader.choice(overrides.assemble_with, "--assemble-with", kAssembleWithNames, parse_assemble_with,
                job.output.assemble_with);
  reader.text(overrides.input_filter, "--input-filter", kMaxJsonPathLength,
              job.data_processing.input_filter);
  reader.text(overrides.output_filter, "--output-filter", kMaxJsonPathLength,
              job.data_processing.output_filter);
  reader.choice(overrides.join_source, "--join-source", kJoinSourceNames, parse_join_source,
                job.data_processing.join_source);
}

void apply_batch_overrides(OverrideReader& reader, const JobOverrides& overrides,
                           TransformJob& job) {
  if (overrides.batch_strategy) {
    BatchStrategy strategy = BatchStrategy::multi_record;
    const std::size_t before = reader.errors.size();
    reader.choice(overrides.batch_strategy, "--strategy", kBatchStrategyNames, parse_batch_strategy,
                  strategy);
    if (reader.errors.size() == before) job.batch_strategy = strategy;
  }
  reader.integer(overrides.max_payload_in_mb, "--max-payload-mb", 0, kMaxPayloadInMB,
                 job.max_payload_in_mb);
  reader.integer(overrides.max_concurrent_transforms, "--max-concurrent", 0,
                 std::numeric_limits<std::int64_t>::max(), job.max_concurrent_transforms);
  if (job.max_concurrent_transforms == 0) job.max_concurrent_transforms.reset();
  std::optional<std::int64_t> timeout = job.invocations_timeout_s;
  reader.integer(overrides.invocations_timeout_s, "--timeout-s", 1, 3600, timeout);
  job.invocations_timeout_s = *timeout;
  std::optional<std::int64_t> retries = job.invocations_max_retries;
  reader.integer(overrides.invocations_max_retries, "--max-retries", 0, 3, retries);
  job.invocations_max_retries = *retries;
}

}  // namespace

Result<TransformJob> apply_overrides(TransformJob job, const JobOverrides& overrides,
                                     std::string_view source) {
  OverrideReader reader;
  apply_input_overrides(reader, overrides, job);
  apply_output_overrides(reader, overrides, job);
  apply_batch_overrides(reader, overrides, job);
  reader.environment(overrides.environment, job);
  if (reader.errors.empty()) reader.errors = validate_job(job, source);
  if (!reader.errors.empty()) return Error{fmt::format("{}", fmt::join(reader.errors, "\n"))};
  return job;
}

}  // namespace tandem::transform
