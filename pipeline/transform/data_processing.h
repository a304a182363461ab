// DataProcessing: InputFilter on each input record before batching, and on each output, the
// join with its input record (JoinSource Input) and OutputFilter. Formats:
//   CSV   a record is a JSON array of its fields, each the field's raw text (see csv.h), so
//         only index paths apply (`$[1:]`, `$[0,-1]`); a selection is written back as CSV:
//         fields joined by commas (one field for a single selected field).
//   JSON  (application/json, JSON Lines) a record is the parsed JSON, written back compact
//         with its keys in their original order.
// Join: CSV → the input's fields, then the output's fields (a JSON output is one field, its
// compact text, quoted); JSON → the input object with the output under "SageMakerOutput"
// (replacing any such key), or {"SageMakerInput": input, "SageMakerOutput": output} when the
// input is not an object; a CSV output under JSON is the line as a string. The join uses the
// input as it was before InputFilter, and its result is written in the input's format.
// Joining needs one output per input record: a batch of one record → the whole response; a
// MultiRecord batch → one response line per record, and a count mismatch is an error naming
// the batch's records. Without a join, OutputFilter applies to each line of the response.
//
// Ownership: a DataProcessor holds its parsed filters; it is immutable after create() and
// safe to share between threads.
#pragma once

#include <string>
#include <string_view>

#include "pipeline/transform/batcher.h"
#include "pipeline/transform/json_path.h"
#include "pipeline/transform/options.h"
#include "pipeline/transform/record.h"
#include "pipeline/transform/result.h"

namespace tandem::transform {

enum class DataFormat { csv, json, other };

// text/csv → csv; application/json, application/jsonlines, application/x-jsonlines,
// application/json-lines → json; parameters (`; charset=utf-8`) and case are ignored.
DataFormat data_format_of(std::string_view content_type);

struct DataProcessingConfig {
  std::string input_filter = "$";
  std::string output_filter = "$";
  JoinSource join_source = JoinSource::none;
};

class DataProcessor {
 public:
  // Errors: a filter that does not parse, or filtering/joining an input that is neither CSV
  // nor JSON.
  static Result<DataProcessor> create(const DataProcessingConfig& config, DataFormat input_format);

  bool filters_input() const { return !input_filter_.is_root(); }
  bool joins() const { return join_source_ == JoinSource::input; }
  bool rewrites_output() const { return joins() || !output_filter_.is_root(); }

  // The record as it is sent: its content filtered, its line break kept. With a join, the
  // original content is kept in `unfiltered_content`. Errors name the record.
  Result<Record> filter_input(Record record) const;

  // What the batch's response adds to the `.out`, joined and filtered as configured and
  // assembled per `assemble_with` (see output_assembly.h). `output_format` comes from the
  // response's Content-Type (or the job's Accept when it has none).
  Result<std::string> process_response(const Batch& batch, std::string_view response,
                                       DataFormat output_format, AssembleWith assemble_with) const;

 private:
  DataProcessor(JsonPath input_filter, JsonPath output_filter, JoinSource join_source,
                DataFormat input_format);
  Result<std::string> rewrite_output(const std::string* input, std::string_view output,
                                     DataFormat output_format) const;

  JsonPath input_filter_;
  JsonPath output_filter_;
  JoinSource join_source_;
  DataFormat input_format_;
};

}  // namespace tandem::transform
