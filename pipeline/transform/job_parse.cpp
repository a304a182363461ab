// Reading a create_transform_job request into a TransformJob (structure, types, ranges, as the
// botocore `sagemaker` 2017-07-24 model defines them); the rules across fields are in
// job_validate.cpp.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "pipeline/transform/job.h"
#include "pipeline/transform/json_fields.h"

namespace tandem::transform {
namespace {

constexpr std::size_t kMaxNameLength = 63;
constexpr std::size_t kMaxUriLength = 1024;
constexpr std::size_t kMaxMimeTypeLength = 256;
constexpr std::size_t kMaxKmsKeyLength = 2048;
constexpr std::size_t kMaxEnvironmentValueLength = 10240;

constexpr std::array<std::string_view, 14> kRequestKeys{"TransformJobName",
                                                        "ModelName",
                                                        "MaxConcurrentTransforms",
                                                        "ModelClientConfig",
                                                        "MaxPayloadInMB",
                                                        "BatchStrategy",
                                                        "Environment",
                                                        "TransformInput",
                                                        "TransformOutput",
                                                        "DataCaptureConfig",
                                                        "TransformResources",
                                                        "DataProcessing",
                                                        "Tags",
                                                        "ExperimentConfig"};
constexpr std::array<std::string_view, 4> kInputKeys{"DataSource", "ContentType", "CompressionType",
                                                     "SplitType"};
constexpr std::array<std::string_view, 1> kDataSourceKeys{"S3DataSource"};
constexpr std::array<std::string_view, 2> kS3DataSourceKeys{"S3DataType", "S3Uri"};
constexpr std::array<std::string_view, 4> kOutputKeys{"S3OutputPath", "Accept", "AssembleWith",
                                                      "KmsKeyId"};
constexpr std::array<std::string_view, 3> kDataProcessingKeys{"InputFilter", "OutputFilter",
                                                              "JoinSource"};
constexpr std::array<std::string_view, 2> kClientConfigKeys{"InvocationsTimeoutInSeconds",
                                                            "InvocationsMaxRetries"};

// SageMaker's names: letters, digits and hyphens, starting and ending with a letter or digit.
bool is_sagemaker_name(std::string_view name) {
  if (name.empty() || name.front() == '-' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

void read_name(JsonFields& fields, const Json& root, std::string_view key,
               std::optional<std::string>& out) {
  std::optional<std::string> name = fields.string(root, "", key, kMaxNameLength);
  if (name && !is_sagemaker_name(*name)) {
    fields.error(key, proto::expected(
                          "letters, digits and hyphens, starting and ending with a letter or digit",
                          fmt::format("\"{}\"", *name)));
    return;
  }
  out = std::move(name);
}

void read_s3_data_source(JsonFields& fields, const Json& input, TransformInput& out) {
  const Json* source = fields.member(input, "TransformInput", "DataSource", true);
  if (source == nullptr ||
      !fields.check_object(*source, "TransformInput.DataSource", kDataSourceKeys)) {
    return;
  }
  const std::string path = "TransformInput.DataSource.S3DataSource";
  const Json* s3 = fields.member(*source, "TransformInput.DataSource", "S3DataSource", true);
  if (s3 == nullptr || !fields.check_object(*s3, path, kS3DataSourceKeys)) return;
  if (auto type = fields.one_of(*s3, path, "S3DataType", kS3DataTypeNames, true)) {
    out.data_type = *parse_s3_data_type(*type);
  }
  if (auto uri = fields.string(*s3, path, "S3Uri", kMaxUriLength, true)) out.uri = *uri;
}

void read_input(JsonFields& fields, const Json& root, TransformInput& out) {
  const Json* input = fields.member(root, "", "TransformInput", true);
  if (input == nullptr || !fields.check_object(*input, "TransformInput", kInputKeys)) return;
  read_s3_data_source(fields, *input, out);
  out.content_type = fields.string(*input, "TransformInput", "ContentType", kMaxMimeTypeLength);
  if (auto type =
          fields.one_of(*input, "TransformInput", "CompressionType", kCompressionTypeNames)) {
    out.compression = *parse_compression_type(*type);
  }
  if (auto type = fields.one_of(*input, "TransformInput", "SplitType", kSplitTypeNames)) {
    out.split_type = *parse_split_type(*type);
  }
}

void read_output(JsonFields& fields, const Json& root, TransformOutput& out,
                 std::vector<std::string>& notes, std::string_view source) {
  const Json* output = fields.member(root, "", "TransformOutput", true);
  if (output == nullptr || !fields.check_object(*output, "TransformOutput", kOutputKeys)) return;
  if (auto path = fields.string(*output, "TransformOutput", "S3OutputPath", kMaxUriLength, true)) {
    out.path = *path;
  }
  out.accept = fields.string(*output, "TransformOutput", "Accept", kMaxMimeTypeLength);
  if (auto with = fields.one_of(*output, "TransformOutput", "AssembleWith", kAssembleWithNames)) {
    out.assemble_with = *parse_assemble_with(*with);
  }
  if (fields.string(*output, "TransformOutput", "KmsKeyId", kMaxKmsKeyLength)) {
    notes.push_back(
        fmt::format("{}: TransformOutput.KmsKeyId: ignored (tandem does not encrypt "
                    "its outputs)",
                    source));
  }
}

void read_data_processing(JsonFields& fields, const Json& root, DataProcessingConfig& out) {
  const Json* processing = fields.member(root, "", "DataProcessing", false);
  if (processing == nullptr ||
      !fields.check_object(*processing, "DataProcessing", kDataProcessingKeys)) {
    return;
  }
  if (auto filter =
          fields.string(*processing, "DataProcessing", "InputFilter", kMaxJsonPathLength)) {
    out.input_filter = *filter;
  }
  if (auto filter =
          fields.string(*processing, "DataProcessing", "OutputFilter", kMaxJsonPathLength)) {
    out.output_filter = *filter;
  }
  if (auto join = fields.one_of(*processing, "DataProcessing", "JoinSource", kJoinSourceNames)) {
    out.join_source = *parse_join_source(*join);
  }
}

void read_batch_settings(JsonFields& fields, const Json& root, TransformJob& job) {
  if (auto strategy = fields.one_of(root, "", "BatchStrategy", kBatchStrategyNames)) {
    job.batch_strategy = parse_batch_strategy(*strategy);
  }
  job.max_payload_in_mb = fields.integer(root, "", "MaxPayloadInMB", 0, kMaxPayloadInMB);
  const std::optional<std::int64_t> concurrency = fields.integer(
      root, "", "MaxConcurrentTransforms", 0, std::numeric_limits<std::int64_t>::max());
  if (concurrency && *concurrency > 0) job.max_concurrent_transforms = concurrency;
  const Json* client = fields.member(root, "", "ModelClientConfig", false);
  if (client == nullptr || !fields.check_object(*client, "ModelClientConfig", kClientConfigKeys)) {
    return;
  }
  if (auto timeout =
          fields.integer(*client, "ModelClientConfig", "InvocationsTimeoutInSeconds", 1, 3600)) {
    job.invocations_timeout_s = *timeout;
  }
  if (auto retries = fields.integer(*client, "ModelClientConfig", "InvocationsMaxRetries", 0, 3)) {
    job.invocations_max_retries = *retries;
  }
}

void read_environment(JsonFields& fields, const Json& root, TransformJob& job) {
  const Json* environment = fields.member(root, "", "Environment", false);
  if (environment == nullptr) return;
  if (!environment->is_object()) {
    fields.expected("Environment", "an object", *environment);
    return;
  }
  if (environment->size() > kMaxEnvironmentEntries) {
    fields.error("Environment", fmt::format("at most {} entries, got {}", kMaxEnvironmentEntries,
                                            environment->size()));
  }
  for (const auto& item : environment->items()) {
    const std::string path = JsonFields::child("Environment", item.key());
    if (!is_environment_key(item.key())) {
      fields.error(path, "expected a key matching [a-zA-Z_][a-zA-Z0-9_]{0,1023}");
    } else if (auto value = fields.string(*environment, "Environment", item.key(),
                                          kMaxEnvironmentValueLength)) {
      // A stage's environment would hold the value cut short at the NUL.
      if (value->find('\0') != std::string::npos) {
        fields.error(path, "must not contain a NUL character (\\u0000)");
      } else {
        job.environment.emplace_back(item.key(), *value);
      }
    }
  }
}

void read_ignored(JsonFields& fields, const Json& root, std::vector<std::string>& notes,
                  std::string_view source) {
  if (fields.member(root, "", "DataCaptureConfig", false) != nullptr) {
    fields.error("DataCaptureConfig", "not supported by tandem (batch data capture)");
  }
  if (fields.member(root, "", "TransformResources", false) != nullptr) {
    notes.push_back(fmt::format(
        "{}: TransformResources: ignored (tandem runs the pipeline on this host; to spread a job "
        "over hosts, run one tandem per host with --shard-index and --shard-count)",
        source));
  }
  for (std::string_view key : {"Tags", "ExperimentConfig"}) {
    if (fields.member(root, "", key, false) != nullptr) {
      notes.push_back(fmt::format("{}: {}: ignored", source, key));
    }
  }
}

}  // namespace

bool is_environment_key(std::string_view key) {
  if (key.empty() || key.size() > 1024) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  return std::isdigit(static_cast<unsigned char>(key.front())) == 0 &&
         std::all_of(key.begin(), key.end(), word);
}

Result<ParsedJob> parse_transform_job(std::string_view json_text, std::string_view source) {
  JsonFields fields{std::string(source)};
  const std::optional<Json> root = fields.parse(json_text);
  if (!root) return fields.to_error();
  ParsedJob parsed;
  if (fields.check_object(*root, "", kRequestKeys)) {
    read_name(fields, *root, "TransformJobName", parsed.job.name);
    read_name(fields, *root, "ModelName", parsed.job.model_name);
    read_input(fields, *root, parsed.job.input);
    read_output(fields, *root, parsed.job.output, parsed.notes, source);
    read_data_processing(fields, *root, parsed.job.data_processing);
    read_batch_settings(fields, *root, parsed.job);
    read_environment(fields, *root, parsed.job);
    read_ignored(fields, *root, parsed.notes, source);
  }
  // The rules across fields are checked once every field reads well, so that one mistake
  // does not also show up as its consequences.
  if (fields.has_errors()) return fields.to_error();
  const std::vector<std::string> errors = validate_job(parsed.job, source);
  if (!errors.empty()) return Error{fmt::format("{}", fmt::join(errors, "\n"))};
  if (parsed.job.batch_strategy && parsed.job.input.split_type == SplitType::none) {
    parsed.notes.push_back(
        fmt::format("{}: BatchStrategy: no effect with SplitType None (each "
                    "object is one request)",
                    source));
  }
  return parsed;
}

}  // namespace tandem::transform
