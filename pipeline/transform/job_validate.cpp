// The rules of a transform job that involve several fields, and command-line overrides.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "pipeline/transform/job.h"
#include "pipeline/transform/json_path.h"
#include "tandem/proto/headers.h"

namespace tandem::transform {
namespace {

constexpr std::string_view kLocationKinds = "an s3:// URI, a file:// URI or a local path";

class Errors {
 public:
  explicit Errors(std::string_view source) : source_(source) {}
  void add(std::string_view where, std::string_view message) {
    list.push_back(source_.empty() ? fmt::format("{}: {}", where, message)
                                   : fmt::format("{}: {}: {}", source_, where, message));
  }
  // A message that names its own place.
  void add_message(std::string_view message) {
    list.push_back(source_.empty() ? std::string(message)
                                   : fmt::format("{}: {}", source_, message));
  }
  std::vector<std::string> list;

 private:
  std::string_view source_;
};

void validate_locations(const TransformJob& job, Errors& errors) {
  if (job.input.uri.empty()) {
    errors.add("TransformInput.DataSource.S3DataSource.S3Uri",
               fmt::format("required ({})", kLocationKinds));
  }
  if (job.output.path.empty()) {
    errors.add("TransformOutput.S3OutputPath", fmt::format("required ({})", kLocationKinds));
  }
}

void validate_concurrency(const TransformJob& job, Errors& errors) {
  if (!job.max_concurrent_transforms || !job.max_payload_in_mb) return;
  const std::int64_t concurrency = *job.max_concurrent_transforms;
  const std::int64_t payload = *job.max_payload_in_mb;
  // Compared by division: the product of two int64 could overflow.
  if (payload > 0 && concurrency > kMaxPayloadInMB / payload) {
    errors.add("MaxConcurrentTransforms", fmt::format("{} × MaxPayloadInMB {} is more than {} MB",
                                                      concurrency, payload, kMaxPayloadInMB));
  }
}

void validate_data_processing(const TransformJob& job, Errors& errors) {
  const DataProcessingConfig& processing = job.data_processing;
  Result<JsonPath> input_filter =
      JsonPath::parse(processing.input_filter, "DataProcessing.InputFilter");
  if (!input_filter) errors.add_message(input_filter.error().message);
  Result<JsonPath> output_filter =
      JsonPath::parse(processing.output_filter, "DataProcessing.OutputFilter");
  if (!output_filter) errors.add_message(output_filter.error().message);
  const bool filters_input = input_filter && !input_filter->is_root();
  const bool joins = processing.join_source == JoinSource::input;
  if (joins && job.input.split_type != SplitType::line) {
    errors.add("DataProcessing.JoinSource", fmt::format("Input requires TransformInput.SplitType "
                                                        "Line, got {}",
                                                        to_string(job.input.split_type)));
  }
  if (joins && job.output.assemble_with != AssembleWith::line) {
    errors.add("DataProcessing.JoinSource",
               fmt::format("Input requires TransformOutput.AssembleWith Line, got {}",
                           to_string(job.output.assemble_with)));
  }
  if (!filters_input && !joins) return;
  const SplitType split = job.input.split_type;
  if (split == SplitType::recordio || split == SplitType::tfrecord) {
    errors.add("DataProcessing", fmt::format("InputFilter and JoinSource apply to CSV and JSON "
                                             "records, not to SplitType {}",
                                             to_string(split)));
  }
  const std::optional<std::string>& type = job.input.content_type;
  if (!type || data_format_of(*type) == DataFormat::other) {
    errors.add("TransformInput.ContentType",
               fmt::format("InputFilter and JoinSource need text/csv, application/json or "
                           "application/jsonlines, got {}",
                           type ? fmt::format("\"{}\"", *type) : "none"));
  }
}

// ContentType and Accept are sent as request headers to the stages: a control character
// would end the header, or the whole request, early (header injection).
void validate_header_values(const TransformJob& job, Errors& errors) {
  auto check = [&errors](std::string_view where, const std::optional<std::string>& value) {
    if (!value) return;
    if (const auto checked = proto::header::check_value(*value); !checked) {
      errors.add(where, checked.error());
    }
  };
  check("TransformInput.ContentType", job.input.content_type);
  check("TransformOutput.Accept", job.output.accept);
}

}  // namespace

std::vector<std::string> validate_job(const TransformJob& job, std::string_view source) {
  Errors errors(source);
  validate_locations(job, errors);
  validate_concurrency(job, errors);
  validate_header_values(job, errors);
  validate_data_processing(job, errors);
  return std::move(errors.list);
}

}  // namespace tandem::transform
