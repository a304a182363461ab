#include "pipeline/transform/execution.h"

#include <algorithm>
#include <array>
#include <limits>

#include "pipeline/transform/json_fields.h"

namespace tandem::transform {
namespace {

constexpr std::string_view kSource = "/execution-parameters";

struct ContainerAnswer {
  std::optional<std::int64_t> max_concurrent_transforms;
  std::optional<BatchStrategy> batch_strategy;
  std::optional<std::int64_t> max_payload_in_mb;
};

Result<ContainerAnswer> read_answer(std::string_view text) {
  JsonFields fields{std::string(kSource)};
  ContainerAnswer answer;
  const std::optional<Json> root = fields.parse(text);
  if (root && !root->is_object()) {
    fields.expected("", "a JSON object", *root);
  } else if (root) {
    answer.max_concurrent_transforms = fields.integer(*root, "", "MaxConcurrentTransforms", 0,
                                                      std::numeric_limits<std::int64_t>::max());
    if (answer.max_concurrent_transforms == 0) answer.max_concurrent_transforms.reset();
    answer.max_payload_in_mb = fields.integer(*root, "", "MaxPayloadInMB", 0, kMaxPayloadInMB);
    static constexpr std::array<std::string_view, 2> kSpellings{"MULTI_RECORD", "SINGLE_RECORD"};
    if (auto strategy = fields.one_of(*root, "", "BatchStrategy", kSpellings)) {
      answer.batch_strategy = parse_container_batch_strategy(*strategy);
    }
  }
  if (fields.has_errors()) return fields.to_error();
  return answer;
}

}  // namespace

Result<ExecutionParameters> resolve_execution_parameters(
    const TransformJob& job, std::optional<std::string_view> container_answer) {
  ContainerAnswer answer;
  if (container_answer) {
    Result<ContainerAnswer> read = read_answer(*container_answer);
    if (!read) return read.error();
    answer = *read;
  }
  const ExecutionParameters defaults;
  ExecutionParameters resolved;
  resolved.max_concurrent_transforms = job.max_concurrent_transforms.value_or(
      answer.max_concurrent_transforms.value_or(defaults.max_concurrent_transforms));
  resolved.batch_strategy =
      job.batch_strategy.value_or(answer.batch_strategy.value_or(defaults.batch_strategy));
  resolved.max_payload_in_mb =
      job.max_payload_in_mb.value_or(answer.max_payload_in_mb.value_or(defaults.max_payload_in_mb));
  return resolved;
}

Environment batch_environment(const TransformJob& job) {
  Environment environment{{"SAGEMAKER_BATCH", "true"}};
  if (job.max_payload_in_mb) {
    environment.emplace_back("SAGEMAKER_MAX_PAYLOAD_IN_MB", std::to_string(*job.max_payload_in_mb));
  }
  if (job.batch_strategy) {
    environment.emplace_back("SAGEMAKER_BATCH_STRATEGY",
                             std::string(container_spelling(*job.batch_strategy)));
  }
  if (job.max_concurrent_transforms) {
    environment.emplace_back("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS",
                             std::to_string(*job.max_concurrent_transforms));
  }
  return environment;
}

Environment stage_environment(const TransformJob& job) {
  const Environment batch = batch_environment(job);
  Environment environment;
  for (const auto& entry : job.environment) {
    auto same_key = [&entry](const auto& other) { return other.first == entry.first; };
    if (std::none_of(batch.begin(), batch.end(), same_key)) environment.push_back(entry);
  }
  environment.insert(environment.end(), batch.begin(), batch.end());
  return environment;
}

}  // namespace tandem::transform
