// A transform job: the boto3 `create_transform_job` request (JSON, as `aws sagemaker
// create-transform-job --cli-input-json` takes it) parsed and validated, plus command-line
// overrides. Every error is collected and names its source and JSON path:
//   job.json: TransformInput.SplitType: expected one of None, Line, RecordIO, TFRecord, got "Lines"
// Unknown keys are errors. URIs are kept as written (s3://, file:// or a local path): the
// object-store layer resolves them. Fields SageMaker leaves unset when the request omits them
// are optional here; enumerations with a documented default carry it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/transform/data_processing.h"
#include "pipeline/transform/options.h"
#include "pipeline/transform/result.h"

namespace tandem::transform {

struct TransformInput {
  S3DataType data_type = S3DataType::s3_prefix;
  std::string uri;                          // S3Uri: a prefix, or the manifest
  std::optional<std::string> content_type;  // sent as Content-Type on every call
  CompressionType compression = CompressionType::none;
  SplitType split_type = SplitType::none;
};

struct TransformOutput {
  std::string path;                   // S3OutputPath
  std::optional<std::string> accept;  // sent as Accept on every call
  AssembleWith assemble_with = AssembleWith::none;
};

struct TransformJob {
  std::optional<std::string> name;        // TransformJobName
  std::optional<std::string> model_name;  // ModelName (the pipeline spec names the stages)
  TransformInput input;
  TransformOutput output;
  DataProcessingConfig data_processing;
  // Unset: the stage's /execution-parameters answer, then the defaults (see execution.h).
  std::optional<BatchStrategy> batch_strategy;
  std::optional<std::int64_t> max_payload_in_mb;          // 0: no limit (chunked streaming)
  std::optional<std::int64_t> max_concurrent_transforms;  // the request's 0 is unset
  std::int64_t invocations_timeout_s = 600;               // ModelClientConfig
  std::int64_t invocations_max_retries = 3;
  std::vector<std::pair<std::string, std::string>> environment;  // in the request's order
};

struct ParsedJob {
  TransformJob job;
  // What was accepted but has no effect here, e.g. "job.json: TransformResources: ignored
  // (tandem runs the pipeline on this host; use --shard-count to spread a job over hosts)".
  std::vector<std::string> notes;
};

// Parses and validates a request. `source` names the file in messages. The error holds every
// problem, one per line.
Result<ParsedJob> parse_transform_job(std::string_view json_text,
                                      std::string_view source = "job.json");

// Values given on the command line, each replacing the job's. Errors name the flag these
// fields are meant for (listed after each), so the CLI should use those flag names.
struct JobOverrides {
  std::optional<std::string> input_uri;                          // --input
  std::optional<std::string> s3_data_type;                       // --s3-data-type
  std::optional<std::string> content_type;                       // --content-type
  std::optional<std::string> compression_type;                   // --compression
  std::optional<std::string> split_type;                         // --split-type
  std::optional<std::string> output_path;                        // --output
  std::optional<std::string> accept;                             // --accept
  std::optional<std::string> assemble_with;                      // --assemble-with
  std::optional<std::string> batch_strategy;                     // --strategy
  std::optional<std::int64_t> max_payload_in_mb;                 // --max-payload-mb
  std::optional<std::int64_t> max_concurrent_transforms;         // --max-concurrent
  std::optional<std::int64_t> invocations_timeout_s;             // --timeout-s
  std::optional<std::int64_t> invocations_max_retries;           // --max-retries
  std::optional<std::string> input_filter;                       // --input-filter
  std::optional<std::string> output_filter;                      // --output-filter
  std::optional<std::string> join_source;                        // --join-source
  std::vector<std::pair<std::string, std::string>> environment;  // --env KEY=VALUE, added/replaced
};

// The job with the overrides applied, validated again as a whole (a job built from overrides
// alone starts from TransformJob{}). `source` names the job in cross-field messages.
Result<TransformJob> apply_overrides(TransformJob job, const JobOverrides& overrides,
                                     std::string_view source = "job.json");

// The rules that involve several fields, each error prefixed with `source`:
// input and output locations present; MaxConcurrentTransforms × MaxPayloadInMB ≤ 100 when both
// are set; JoinSource Input needs SplitType Line and AssembleWith Line; filters parse; filters
// and joins need CSV or JSON input split by Line (or not split).
std::vector<std::string> validate_job(const TransformJob& job, std::string_view source);

// Key and value rules of TransformEnvironmentMap (botocore): at most 16 entries, keys
// [a-zA-Z_][a-zA-Z0-9_]{0,1023}, values at most 10240 characters.
inline constexpr std::size_t kMaxEnvironmentEntries = 16;
bool is_environment_key(std::string_view key);

}  // namespace tandem::transform
