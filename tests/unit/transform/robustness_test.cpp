// Arbitrary input must give a value or an error, never undefined behaviour (this runs under
// ASan and UBSan in the sanitizer build). Deterministic: fixed seeds, fixed sizes. The
// libFuzzer targets of tests/fuzz search much further; these run with every unit test.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "pipeline/transform/csv.h"
#include "pipeline/transform/data_processing.h"
#include "pipeline/transform/gzip.h"
#include "pipeline/transform/job.h"
#include "pipeline/transform/json_path.h"
#include "pipeline/transform/manifest.h"
#include "test_data.h"

using namespace tandem::transform;

namespace {

std::string random_bytes(std::mt19937& rng, std::size_t max_size, std::string_view alphabet = "") {
  std::uniform_int_distribution<std::size_t> size(0, max_size);
  std::string out(size(rng), '\0');
  for (char& c : out) {
    c = alphabet.empty() ? static_cast<char>(rng() & 0xFF) : alphabet[rng() % alphabet.size()];
  }
  return out;
}

// `valid` with a few bytes replaced, inserted or cut.
std::string mutate(std::mt19937& rng, std::string valid) {
  for (int i = 0; i < 3 && !valid.empty(); ++i) {
    const std::size_t at = rng() % valid.size();
    switch (rng() % 3) {
      case 0:
        valid[at] = static_cast<char>(rng() & 0xFF);
        break;
      case 1:
        valid.insert(at, 1, static_cast<char>(rng() & 0xFF));
        break;
      default:
        valid.erase(at, 1 + rng() % 4);
        break;
    }
  }
  return valid;
}

}  // namespace

TEST_CASE("Splitters take arbitrary bytes in arbitrary chunks", "[robustness]") {
  std::mt19937 rng(1234);
  const std::string valid_recordio = testing::recordio_part("head", 1) +
                                     testing::recordio_part("tail!", 3) +
                                     testing::recordio_part("x");
  const std::string valid_tfrecord = testing::tfrecord("abc") + testing::tfrecord("");
  for (int round = 0; round < 300; ++round) {
    for (SplitType type :
         {SplitType::none, SplitType::line, SplitType::recordio, SplitType::tfrecord}) {
      std::string object = random_bytes(rng, 64);
      if (type == SplitType::recordio && round % 2 == 0) object = mutate(rng, valid_recordio);
      if (type == SplitType::tfrecord && round % 2 == 0) object = mutate(rng, valid_tfrecord);
      const auto outcome = testing::split(type, object, 1 + rng() % 9, rng() % 2 ? 0 : 16);
      for (const Record& record : outcome.records) {
        CHECK(record.content().size() <= record.framed.size() + 8);
      }
    }
  }
}

TEST_CASE("Gzip takes arbitrary and damaged data", "[robustness]") {
  std::mt19937 rng(99);
  const std::string valid = testing::gzip_member("a,b,c\n1,2,3\n") + testing::gzip_member("x\n");
  for (int round = 0; round < 300; ++round) {
    const std::string data = round % 2 ? random_bytes(rng, 64) : mutate(rng, valid);
    GzipInflater inflater;
    std::size_t total = 0;
    auto sink = [&total](std::string_view piece) {
      total += piece.size();
      return Status::success();
    };
    bool ok = true;
    for (std::size_t at = 0; at < data.size() && ok; at += 5)
      ok = inflater.feed(data.substr(at, 5), sink).ok();
    if (ok) (void)inflater.finish();
    CHECK(total == inflater.decompressed_bytes_written());
  }
}

TEST_CASE("JSONPath, CSV and JSON parsers take arbitrary text", "[robustness]") {
  std::mt19937 rng(7);
  const Json document = Json::parse(R"({"a":[1,{"b":[2,3]}],"c":{"d":"e"},"f":[[0],[1,2]]})");
  for (int round = 0; round < 2000; ++round) {
    const std::string path = "$" + random_bytes(rng, 20, "$.[]*:,-'\"ab019 \\?@");
    if (Result<JsonPath> parsed = JsonPath::parse(path)) (void)parsed->evaluate(document);
    (void)split_csv_record(random_bytes(rng, 20, "a,\"\r\n "));
    (void)parse_json(random_bytes(rng, 30, "[]{}\":,\\ 1an"));
  }
  CHECK(parse_json(std::string(100'000, '[')).error().message ==
        "JSON nested deeper than 512 levels");
}

// nlohmann throws out_of_range, not parse_error, for these (found by tests/fuzz/json_path_fuzzer).
TEST_CASE("a number too large for a double is a JSON error, not an exception", "[robustness]") {
  CHECK(parse_json("[1e400]").error().message == "not valid JSON: number overflow parsing '1e400'");
  CHECK(parse_json(R"({"a": -1E+999})").error().message ==
        "not valid JSON: number overflow parsing '-1E+999'");
  const auto processor =
      DataProcessor::create({"$.a", "$", JoinSource::none}, DataFormat::json).value();
  Record record;
  record.framed = R"({"a": 1e400})";
  record.content_size = record.framed.size();
  CHECK(processor.filter_input(record).error().message ==
        "record 0 (byte offset 0): InputFilter \"$.a\": not valid JSON: number overflow parsing "
        "'1e400'");
  CHECK(parse_manifest(R"([{"prefix": "p/"}, 1e400])").error().message ==
        "manifest: not valid JSON: number overflow parsing '1e400'");
}

TEST_CASE("Job and manifest parsers take damaged documents", "[robustness]") {
  std::mt19937 rng(42);
  const std::string job =
      R"({"TransformInput": {"DataSource": {"S3DataSource": )"
      R"({"S3DataType": "S3Prefix", "S3Uri": "in/"}}, "SplitType": "Line"},)"
      R"("TransformOutput": {"S3OutputPath": "out/"}, "MaxPayloadInMB": 6,)"
      R"("Environment": {"A": "b"}, "DataProcessing": {"InputFilter": "$[1:]"}})";
  const std::string manifest = R"([{"prefix": "s3://b/p/"}, "a.csv", "b/c.csv"])";
  for (int round = 0; round < 1000; ++round) {
    (void)parse_transform_job(mutate(rng, job));
    (void)parse_manifest(mutate(rng, manifest));
  }
  CHECK(parse_transform_job(std::string(5000, '[') + std::string(5000, ']')).error().message ==
        "job.json: JSON nested deeper than 512 levels");
}
