#include "pipeline/transform/data_processing.h"

#include <fmt/format.h>

#include <algorithm>

#include "pipeline/transform/csv.h"
#include "pipeline/transform/output_assembly.h"
#include "tandem/proto/media_type.h"

namespace tandem::transform {
namespace {

Result<Json> csv_fields(std::string_view line) {
  Result<std::vector<std::string_view>> fields = split_csv_record(line);
  if (!fields) return fields.error();
  Json array = Json::array();
  for (std::string_view field : *fields) array.push_back(std::string(field));
  return array;
}

Result<Json> to_value(std::string_view text, DataFormat format) {
  return format == DataFormat::csv ? csv_fields(text) : parse_json(text);
}

std::string compact(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<std::string> to_text(const Json& value, DataFormat format) {
  if (format != DataFormat::csv) return compact(value);
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_array() || !std::all_of(value.begin(), value.end(),
                                        [](const Json& field) { return field.is_string(); })) {
    return Error{"a CSV record is a field or an array of fields"};
  }
  std::string line;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (i > 0) line.push_back(',');
    line += value[i].get_ref<const std::string&>();
  }
  return line;
}

Error prefixed(std::string_view prefix, const Error& error) {
  return Error{fmt::format("{}: {}", prefix, error.message)};
}

// CSV: the input's fields, then the output's; a JSON output is one field, its compact text.
Result<Json> join_csv(std::string_view input, std::string_view output, DataFormat output_format) {
  Result<Json> joined = csv_fields(input);
  if (!joined) return prefixed("JoinSource Input: input", joined.error());
  Result<Json> result = output_format == DataFormat::json ? parse_json(output) : csv_fields(output);
  if (!result) return prefixed("JoinSource Input: output", result.error());
  if (output_format == DataFormat::json) {
    joined->push_back(quote_csv_field(compact(*result)));
  } else {
    for (Json& field : *result) joined->push_back(std::move(field));
  }
  return joined;
}

// JSON: the output under "SageMakerOutput"; a CSV output is its line, as a string.
Result<Json> join_json(std::string_view input, std::string_view output, DataFormat output_format) {
  Result<Json> joined = parse_json(input);
  if (!joined) return prefixed("JoinSource Input: input", joined.error());
  Result<Json> result =
      output_format == DataFormat::json ? parse_json(output) : Result<Json>(Json(output));
  if (!result) return prefixed("JoinSource Input: output", result.error());
  if (joined->is_object()) {
    (*joined)["SageMakerOutput"] = std::move(*result);
    return joined;
  }
  Json wrapped = Json::object();
  wrapped["SageMakerInput"] = std::move(*joined);
  wrapped["SageMakerOutput"] = std::move(*result);
  return wrapped;
}

}  // namespace

DataFormat data_format_of(std::string_view content_type) {
  const std::string type = proto::media_type(content_type, proto::Blanks::remove);
  if (type == "text/csv") return DataFormat::csv;
  if (type == "application/json" || type == "application/jsonlines" ||
      type == "application/x-jsonlines" || type == "application/json-lines") {
    return DataFormat::json;
  }
  return DataFormat::other;
}

DataProcessor::DataProcessor(JsonPath input_filter, JsonPath output_filter, JoinSource join_source,
                             DataFormat input_format)
    : input_filter_(std::move(input_filter)),
      output_filter_(std::move(output_filter)),
      join_source_(join_source),
      input_format_(input_format) {}

Result<DataProcessor> DataProcessor::create(const DataProcessingConfig& config,
                                            DataFormat input_format) {
  Result<JsonPath> input_filter = JsonPath::parse(config.input_filter, "InputFilter");
  if (!input_filter) return input_filter.error();
  Result<JsonPath> output_filter = JsonPath::parse(config.output_filter, "OutputFilter");
  if (!output_filter) return output_filter.error();
  DataProcessor processor(std::move(*input_filter), std::move(*output_filter), config.join_source,
                          input_format);
  if ((processor.filters_input() || processor.joins()) && input_format == DataFormat::other) {
    return Error{
        "DataProcessing: InputFilter and JoinSource need CSV or JSON input (ContentType "
        "text/csv, application/json or application/jsonlines)"};
  }
  return processor;
}

Result<Record> DataProcessor::filter_input(Record record) const {
  if (!filters_input()) return record;
  const std::string prefix = fmt::format("record {} (byte offset {}): InputFilter \"{}\"",
                                         record.index, record.offset, input_filter_.text());
  Result<Json> value = to_value(record.content(), input_format_);
  if (!value) return prefixed(prefix, value.error());
  Result<Json> selected = input_filter_.evaluate(*value);
  if (!selected) return prefixed(prefix, selected.error());
  Result<std::string> text = to_text(*selected, input_format_);
  if (!text) return prefixed(prefix, text.error());
  if (joins()) record.unfiltered_content = std::string(record.content());
  std::string framed = std::move(*text);
  const std::size_t content_size = framed.size();
  framed.append(record.line_break());
  record.framed = std::move(framed);
  record.content_begin = 0;
  record.content_size = content_size;
  record.reassembled.reset();
  return record;
}

Result<std::string> DataProcessor::process_response(const Batch& batch, std::string_view response,
                                                    DataFormat output_format,
                                                    AssembleWith assemble_with) const {
  if (!rewrites_output()) return assemble_response(assemble_with, response);
  const std::uint64_t first = batch.first_record_index;
  const std::uint64_t count = batch.record_count;
  const std::string records =
      fmt::format("records {}-{} (byte offset {})", first, first + count - 1, batch.first_offset);
  if (output_format == DataFormat::other) {
    return Error{
        fmt::format("{}: OutputFilter and JoinSource need a CSV or JSON response "
                    "(text/csv, application/json or application/jsonlines)",
                    records)};
  }
  const std::vector<OutputLine> lines = split_response(response, count);
  if (joins() && lines.size() != count) {
    return Error{
        fmt::format("{}: JoinSource Input: the response has {} lines, expected {} (one "
                    "per record)",
                    records, lines.size(), count)};
  }
  if (joins() && batch.join_inputs.size() != count) {
    return Error{fmt::format("{}: JoinSource Input: the batch kept {} input records, expected {}",
                             records, batch.join_inputs.size(), count)};
  }
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string* input = joins() ? &batch.join_inputs[i] : nullptr;
    Result<std::string> text = rewrite_output(input, lines[i].content, output_format);
    if (!text) {
      const std::string where = lines.size() == count
                                    ? fmt::format("record {}", first + i)
                                    : fmt::format("line {} of the response to {}", i, records);
      return prefixed(where, text.error());
    }
    append_output_record(out, assemble_with, *text, lines[i].line_break);
  }
  return out;
}

Result<std::string> DataProcessor::rewrite_output(const std::string* input, std::string_view output,
                                                  DataFormat output_format) const {
  Result<Json> value = input == nullptr ? to_value(output, output_format)
                       : input_format_ == DataFormat::csv
                           ? join_csv(*input, output, output_format)
                           : join_json(*input, output, output_format);
  if (!value) return value.error();
  const std::string prefix = fmt::format("OutputFilter \"{}\"", output_filter_.text());
  Result<Json> selected = output_filter_.evaluate(*value);
  if (!selected) return prefixed(prefix, selected.error());
  Result<std::string> text = to_text(*selected, input != nullptr ? input_format_ : output_format);
  if (!text) return prefixed(prefix, text.error());
  return text;
}

}  // namespace tandem::transform
