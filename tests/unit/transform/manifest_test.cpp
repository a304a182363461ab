#include "pipeline/transform/manifest.h"

#include <catch2/catch.hpp>

using namespace tandem::transform;

namespace {
std::string errors_of(std::string_view json) {
  auto parsed = parse_manifest(json, "manifest.json");
  return parsed ? "parsed" : parsed.error().message;
}
}  // namespace

TEST_CASE("A manifest names prefix + each entry", "[manifest]") {
  auto entries = parse_manifest(
      R"([{"prefix": "s3://customer_bucket/some/prefix/"}, "relative/path/to/custdata-1",
          "relative/path/custdata-2"])");
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 2);
  CHECK((*entries)[0].uri == "s3://customer_bucket/some/prefix/relative/path/to/custdata-1");
  CHECK((*entries)[0].relative_key == "relative/path/to/custdata-1");
  CHECK((*entries)[1].uri == "s3://customer_bucket/some/prefix/relative/path/custdata-2");
}

TEST_CASE("A prefix joins as written and may list nothing", "[manifest]") {
  auto entries = parse_manifest(R"([{"prefix": "file:///data/part-"}, "1.csv"])");
  REQUIRE(entries.ok());
  CHECK((*entries)[0].uri == "file:///data/part-1.csv");
  CHECK(parse_manifest(R"([{"prefix": "in/"}])")->empty());
}

TEST_CASE("Manifest errors name the entry", "[manifest]") {
  CHECK(errors_of(R"([{"prefix": "p/"}, "a", 5, "", {"x": 1}])") ==
        "manifest.json: [2]: expected a string (a key relative to the prefix), got 5\n"
        "manifest.json: [3]: must not be empty\n"
        "manifest.json: [4]: expected a string (a key relative to the prefix), got {\"x\":1}");
  CHECK(errors_of(R"(["a", "b"])") ==
        "manifest.json: [0]: expected {\"prefix\": \"s3://bucket/prefix/\"}, got \"a\"");
  CHECK(errors_of(R"([{"prefx": "p/"}, "a"])") ==
        "manifest.json: [0].prefx: unknown key; did you mean \"prefix\"?\n"
        "manifest.json: [0].prefix: required");
  CHECK(errors_of(R"([{"prefix": ""}])") == "manifest.json: [0].prefix: must not be empty");
  CHECK(errors_of(R"([])") ==
        "manifest.json: expected an array starting with {\"prefix\": ...}, got []");
  CHECK(
      errors_of(R"({"prefix": "p/"})") ==
      "manifest.json: expected an array starting with {\"prefix\": ...}, got {\"prefix\":\"p/\"}");
  CHECK(errors_of("[").starts_with("manifest.json: not valid JSON: "));
}
