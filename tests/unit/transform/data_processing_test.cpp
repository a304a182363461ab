#include "pipeline/transform/data_processing.h"

#include <catch2/catch.hpp>

#include "test_data.h"

using namespace tandem::transform;

namespace {

DataProcessor make(std::string input_filter, std::string output_filter, JoinSource join,
                   DataFormat input_format) {
  auto processor = DataProcessor::create({input_filter, output_filter, join}, input_format);
  REQUIRE(processor.ok());
  return std::move(*processor);
}

// Splits `object` by line, filters each record, and batches them as one batch.
Batch one_batch(const DataProcessor& processor, std::string_view object, BatchStrategy strategy) {
  const auto split = testing::split(SplitType::line, object);
  REQUIRE(split.error.empty());
  Batcher batcher(strategy, 0, processor.joins());
  std::vector<Batch> batches;
  for (const Record& record : split.records) {
    auto filtered = processor.filter_input(record);
    REQUIRE(filtered.ok());
    auto added = batcher.add(*filtered);
    REQUIRE(added.ok());
    if (*added) batches.push_back(std::move(**added));
  }
  if (auto last = batcher.finish()) batches.push_back(std::move(*last));
  REQUIRE(batches.size() == 1);
  return std::move(batches.front());
}

std::string respond(const DataProcessor& processor, const Batch& batch, std::string_view response,
                    DataFormat output_format, AssembleWith with = AssembleWith::line) {
  auto out = processor.process_response(batch, response, output_format, with);
  return out ? *out : "error: " + out.error().message;
}

Record line(std::string_view text, std::uint64_t index = 0, std::uint64_t offset = 0) {
  auto split = testing::split(SplitType::line, text);
  REQUIRE(split.records.size() == 1);
  split.records[0].index = index;
  split.records[0].offset = offset;
  return split.records[0];
}

std::string filtered(const DataProcessor& processor, const Record& record) {
  auto result = processor.filter_input(record);
  return result ? result->framed : "error: " + result.error().message;
}

}  // namespace

TEST_CASE("Content types map to CSV, JSON or neither", "[data_processing]") {
  CHECK(data_format_of("text/csv") == DataFormat::csv);
  CHECK(data_format_of("Text/CSV; charset=utf-8") == DataFormat::csv);
  CHECK(data_format_of("application/json") == DataFormat::json);
  CHECK(data_format_of("application/jsonlines") == DataFormat::json);
  CHECK(data_format_of("application/x-jsonlines") == DataFormat::json);
  CHECK(data_format_of("application/x-recordio-protobuf") == DataFormat::other);
  CHECK(data_format_of("") == DataFormat::other);
}

TEST_CASE("DataProcessor::create checks the filters and the input format", "[data_processing]") {
  CHECK(DataProcessor::create({"$[1:", "$", JoinSource::none}, DataFormat::csv).error().message ==
        "InputFilter \"$[1:\": position 4: expected ']'");
  CHECK(DataProcessor::create({"$", "$.", JoinSource::none}, DataFormat::csv).error().message ==
        "OutputFilter \"$.\": position 2: expected a name, '*' or '[' after '.'");
  CHECK(
      DataProcessor::create({"$[1:]", "$", JoinSource::none}, DataFormat::other).error().message ==
      "DataProcessing: InputFilter and JoinSource need CSV or JSON input (ContentType "
      "text/csv, application/json or application/jsonlines)");
  CHECK(DataProcessor::create({"$", "$[0]", JoinSource::none}, DataFormat::other).ok());
}

TEST_CASE("InputFilter on CSV records keeps fields' raw text and the line break",
          "[data_processing]") {
  const DataProcessor drop_id = make("$[1:]", "$", JoinSource::none, DataFormat::csv);
  CHECK(filtered(drop_id, line("1,2.5,\"a,b\"\n")) == "2.5,\"a,b\"\n");
  CHECK(filtered(drop_id, line("1,2\r\n")) == "2\r\n");
  CHECK(filtered(drop_id, line("only")) == "");
  const DataProcessor first = make("$[0]", "$", JoinSource::none, DataFormat::csv);
  CHECK(filtered(first, line("\"x,y\",2\n")) == "\"x,y\"\n");
  const DataProcessor ends = make("$[0,-1]", "$", JoinSource::none, DataFormat::csv);
  CHECK(filtered(ends, line("a,b,c")) == "a,c");
}

TEST_CASE("InputFilter on JSON records writes compact JSON", "[data_processing]") {
  const DataProcessor features = make("$.features", "$", JoinSource::none, DataFormat::json);
  CHECK(filtered(features, line("{\"id\": 1, \"features\": [1, 2.5]}\n")) == "[1,2.5]\n");
  const DataProcessor pick = make("$['b','a']", "$", JoinSource::none, DataFormat::json);
  CHECK(filtered(pick, line("{\"a\":1,\"b\":{\"z\":1,\"y\":2},\"c\":3}")) ==
        "{\"b\":{\"z\":1,\"y\":2},\"a\":1}");
}

TEST_CASE("InputFilter errors name the record", "[data_processing]") {
  const DataProcessor fifth = make("$[5]", "$", JoinSource::none, DataFormat::csv);
  CHECK(filtered(fifth, line("a,b,c\n", 2, 10)) ==
        "error: record 2 (byte offset 10): InputFilter \"$[5]\": [5]: index 5 is out of range "
        "for an array of 3 elements");
  const DataProcessor json = make("$.a", "$", JoinSource::none, DataFormat::json);
  CHECK(filtered(json, line("{\"a\":", 4, 99))
            .starts_with("error: record 4 (byte offset 99): InputFilter \"$.a\": not valid JSON: "
                         "parse error at line 1, column 6"));
  CHECK(filtered(json, line(std::string(600, '[') + std::string(600, ']'))) ==
        "error: record 0 (byte offset 0): InputFilter \"$.a\": JSON nested deeper than 512 "
        "levels");
  const DataProcessor csv = make("$[0]", "$", JoinSource::none, DataFormat::csv);
  CHECK(filtered(csv, line("\"open,1\n")) ==
        "error: record 0 (byte offset 0): InputFilter \"$[0]\": CSV position 0: unterminated "
        "quoted field");
}

TEST_CASE("CSV join: drop the ID before inference, keep ID and prediction", "[data_processing]") {
  const DataProcessor processor = make("$[1:]", "$[0,-1]", JoinSource::input, DataFormat::csv);
  const Batch batch = one_batch(processor, "1,5.1,3.5\n2,4.9,3.0\n", BatchStrategy::multi_record);
  CHECK(batch.bytes == "5.1,3.5\n4.9,3.0\n");
  CHECK(respond(processor, batch, "0.9\n0.1\n", DataFormat::csv) == "1,0.9\n2,0.1\n");
  CHECK(respond(processor, batch, "0.9\n0.1", DataFormat::csv) == "1,0.9\n2,0.1\n");
}

TEST_CASE("CSV join appends every output field, or a JSON output as one quoted field",
          "[data_processing]") {
  const DataProcessor processor = make("$", "$", JoinSource::input, DataFormat::csv);
  const Batch batch = one_batch(processor, "1,x\n", BatchStrategy::single_record);
  CHECK(respond(processor, batch, "a,\"b,c\"\n", DataFormat::csv) == "1,x,a,\"b,c\"\n");
  CHECK(respond(processor, batch, "{\"score\": 0.9, \"label\": \"y\"}", DataFormat::json) ==
        "1,x,\"{\"\"score\"\":0.9,\"\"label\"\":\"\"y\"\"}\"\n");
}

TEST_CASE("InputFilter on a JSON record without the selected key is an error",
          "[data_processing]") {
  const DataProcessor processor = make("$.features", "$", JoinSource::input, DataFormat::json);
  CHECK(filtered(processor, line("[3,4]\n", 1, 26)) ==
        "error: record 1 (byte offset 26): InputFilter \"$.features\": .features: expected an "
        "object, got an array");
}

TEST_CASE("JSON join: objects get SageMakerOutput, other values are wrapped", "[data_processing]") {
  const DataProcessor processor = make("$", "$", JoinSource::input, DataFormat::json);
  const Batch batch = one_batch(processor, "{\"id\":1,\"SageMakerOutput\":0}\n[3,4]\n",
                                BatchStrategy::multi_record);
  CHECK(respond(processor, batch, "{\"label\":1}\n{\"label\":0}\n", DataFormat::json) ==
        "{\"id\":1,\"SageMakerOutput\":{\"label\":1}}\n"
        "{\"SageMakerInput\":[3,4],\"SageMakerOutput\":{\"label\":0}}\n");
  CHECK(respond(processor, batch, "0.9\n0.1\n", DataFormat::csv) ==
        "{\"id\":1,\"SageMakerOutput\":\"0.9\"}\n"
        "{\"SageMakerInput\":[3,4],\"SageMakerOutput\":\"0.1\"}\n");
}

TEST_CASE("JSON join with an OutputFilter keeping two attributes", "[data_processing]") {
  const DataProcessor processor =
      make("$.features", "$['id','SageMakerOutput']", JoinSource::input, DataFormat::json);
  const Batch batch =
      one_batch(processor, "{\"id\":7,\"features\":[1,2]}\n", BatchStrategy::single_record);
  CHECK(batch.bytes == "[1,2]\n");
  CHECK(respond(processor, batch, "{\"label\":1}", DataFormat::json) ==
        "{\"id\":7,\"SageMakerOutput\":{\"label\":1}}\n");
}

TEST_CASE("A join needs one response line per record", "[data_processing]") {
  const DataProcessor processor = make("$", "$", JoinSource::input, DataFormat::csv);
  Batch batch = one_batch(processor, "a\nb\nc\n", BatchStrategy::multi_record);
  batch.first_record_index = 10;
  batch.first_offset = 120;
  CHECK(respond(processor, batch, "1\n2\n", DataFormat::csv) ==
        "error: records 10-12 (byte offset 120): JoinSource Input: the response has 2 lines, "
        "expected 3 (one per record)");
  CHECK(respond(processor, batch, "1\n2\n3\n4\n", DataFormat::csv)
            .starts_with("error: records 10-12 (byte offset 120): JoinSource Input: the response "
                         "has 4 lines"));
}

TEST_CASE("OutputFilter without a join applies to each response line", "[data_processing]") {
  const DataProcessor processor = make("$", "$.a", JoinSource::none, DataFormat::json);
  const Batch batch = one_batch(processor, "{}\n{}\n", BatchStrategy::multi_record);
  const std::string response = "{\"a\":1,\"b\":2}\r\n{\"a\":[3],\"b\":4}";
  CHECK(respond(processor, batch, response, DataFormat::json) == "1\n[3]\n");
  CHECK(respond(processor, batch, response, DataFormat::json, AssembleWith::none) == "1\r\n[3]");
  CHECK(respond(processor, batch, "{\"b\":2}\n{\"a\":1}\n", DataFormat::json) ==
        "error: record 0: OutputFilter \"$.a\": .a: no key \"a\"");
  CHECK(respond(processor, batch, "{\"a\":1}\n{\"a\":2}\n{\"b\":3}\n", DataFormat::json) ==
        "error: line 2 of the response to records 0-1 (byte offset 0): OutputFilter \"$.a\": .a: "
        "no key \"a\"");
  CHECK(respond(processor, batch, "x", DataFormat::other) ==
        "error: records 0-1 (byte offset 0): OutputFilter and JoinSource need a CSV or JSON "
        "response (text/csv, application/json or application/jsonlines)");
}

TEST_CASE("An OutputFilter index beyond the joined record is an error", "[data_processing]") {
  const DataProcessor processor = make("$", "$[5]", JoinSource::input, DataFormat::csv);
  const Batch batch = one_batch(processor, "1,2,3\n", BatchStrategy::single_record);
  CHECK(respond(processor, batch, "0.5", DataFormat::csv) ==
        "error: record 0: OutputFilter \"$[5]\": [5]: index 5 is out of range for an array of 4 "
        "elements");
}

TEST_CASE("Without DataProcessing responses pass through", "[data_processing]") {
  const DataProcessor processor = make("$", "$", JoinSource::none, DataFormat::other);
  CHECK_FALSE(processor.filters_input());
  CHECK_FALSE(processor.rewrites_output());
  const Record record = line("raw\n");
  CHECK(filtered(processor, record) == "raw\n");
  Batch batch;
  batch.record_count = 3;
  CHECK(respond(processor, batch, "a\nb\nc", DataFormat::other) == "a\nb\nc\n");
  CHECK(respond(processor, batch, "\x01\x02", DataFormat::other, AssembleWith::none) == "\x01\x02");
}
