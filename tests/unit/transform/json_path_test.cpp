#include "pipeline/transform/json_path.h"

#include <catch2/catch.hpp>

using namespace tandem::transform;

namespace {

// The selection as compact JSON, or "error: <message>".
std::string select(std::string_view path, std::string_view document) {
  Result<JsonPath> parsed = JsonPath::parse(path, "InputFilter");
  if (!parsed) return "parse error: " + parsed.error().message;
  Result<Json> selected = parsed->evaluate(Json::parse(document));
  if (!selected) return "error: " + selected.error().message;
  return selected->dump();
}

std::string parse_error(std::string_view path) {
  Result<JsonPath> parsed = JsonPath::parse(path, "InputFilter");
  return parsed ? "parsed" : parsed.error().message;
}

const char* const kCsvRecord = R"(["1","2.5","a","b","z"])";
const char* const kObject =
    R"({"id":7,"features":[1,2,3],"meta":{"x":1,"y":2},"SageMakerOutput":0.9})";

}  // namespace

TEST_CASE("JSONPath $ selects the whole value", "[json_path]") {
  CHECK(select("$", kObject) == kObject);
  CHECK(JsonPath::parse("$").value().is_root());
}

TEST_CASE("JSONPath .name and ['name'] select a value itself", "[json_path]") {
  CHECK(select("$.features", kObject) == "[1,2,3]");
  CHECK(select("$.meta.y", kObject) == "2");
  CHECK(select("$['meta']['x']", kObject) == "1");
  CHECK(select(R"($["meta"].x)", kObject) == "1");
  CHECK(select("$['it''s']", R"({"it's":1})") ==
        "parse error: InputFilter \"$['it''s']\": "
        "position 6: expected ']'");
  CHECK(select(R"($['it\'s'])", R"({"it's":1})") == "1");
}

TEST_CASE("JSONPath indexes, negative indexes and unions", "[json_path]") {
  CHECK(select("$[0]", kCsvRecord) == R"("1")");
  CHECK(select("$[-1]", kCsvRecord) == R"("z")");
  CHECK(select("$[0,-1]", kCsvRecord) == R"(["1","z"])");
  CHECK(select("$[1, 3, 4]", kCsvRecord) == R"(["2.5","b","z"])");
  CHECK(select("$.features[1]", kObject) == "2");
}

TEST_CASE("JSONPath slices: either side optional, end exclusive, negatives from the end",
          "[json_path]") {
  CHECK(select("$[1:]", kCsvRecord) == R"(["2.5","a","b","z"])");
  CHECK(select("$[:2]", kCsvRecord) == R"(["1","2.5"])");
  CHECK(select("$[1:3]", kCsvRecord) == R"(["2.5","a"])");
  CHECK(select("$[:]", kCsvRecord) == kCsvRecord);
  CHECK(select("$[-2:]", kCsvRecord) == R"(["b","z"])");
  CHECK(select("$[:-1]", kCsvRecord) == R"(["1","2.5","a","b"])");
  CHECK(select("$[3:1]", kCsvRecord) == "[]");
  CHECK(select("$[2:100]", kCsvRecord) == R"(["a","b","z"])");
  CHECK(select("$[-100:1]", kCsvRecord) == R"(["1"])");
  CHECK(select("$[0,3:]", kCsvRecord) == R"(["1","b","z"])");
}

TEST_CASE("JSONPath wildcards", "[json_path]") {
  CHECK(select("$.meta.*", kObject) == "[1,2]");
  CHECK(select("$[*]", "[1,[2],{}]") == "[1,[2],{}]");
  CHECK(select("$.*", R"({"b":1,"a":2})") == "[1,2]");  // key order kept
  CHECK(select("$[*].id", R"([{"id":1},{"x":2},{"id":3},5])") == "[1,3]");
  CHECK(select("$.features.*", kObject) == "[1,2,3]");
}

TEST_CASE("JSONPath ['a','b'] on one object keeps those keys", "[json_path]") {
  CHECK(select("$['id','SageMakerOutput']", kObject) == R"({"id":7,"SageMakerOutput":0.9})");
  CHECK(select("$.meta['y','x']", kObject) == R"({"y":2,"x":1})");
  CHECK(select(".['id','meta']", kObject).starts_with("parse error"));
  CHECK(select("$.['id','features']", kObject) == R"({"id":7,"features":[1,2,3]})");
  CHECK(select("$['meta','features'][0]", kObject) == "[1]");  // not final: a list
}

TEST_CASE("JSONPath errors while the path is definite", "[json_path]") {
  CHECK(select("$[5]", kCsvRecord) ==
        "error: [5]: index 5 is out of range for an array of 5 elements");
  CHECK(select("$[-6]", kCsvRecord) ==
        "error: [-6]: index -6 is out of range for an array of 5 elements");
  CHECK(select("$[0,9]", kCsvRecord) ==
        "error: [0,9]: index 9 is out of range for an array of 5 elements");
  CHECK(select("$.missing", kObject) == "error: .missing: no key \"missing\"");
  CHECK(select("$['id','nope']", kObject) == "error: ['id','nope']: no key \"nope\"");
  CHECK(select("$.id.x", kObject) == "error: .x: expected an object, got an integer");
  CHECK(select("$[0]", kObject) == "error: [0]: expected an array, got an object");
  CHECK(select("$.id.*", kObject) == "error: .*: expected an object or an array, got an integer");
  CHECK(select("$[1:]", R"("text")") == "error: [1:]: expected an array, got a string");
}

TEST_CASE("JSONPath syntax errors name the position", "[json_path]") {
  CHECK(parse_error("$[1:") == "InputFilter \"$[1:\": position 4: expected ']'");
  CHECK(parse_error("") == "InputFilter \"\": position 0: expected '$'");
  CHECK(parse_error("features") == "InputFilter \"features\": position 0: expected '$'");
  CHECK(parse_error("$features") == "InputFilter \"$features\": position 1: expected '.' or '['");
  CHECK(parse_error("$.") ==
        "InputFilter \"$.\": position 2: expected a name, '*' or '[' after '.'");
  CHECK(parse_error("$..a") ==
        "InputFilter \"$..a\": position 2: recursive descent '..' is not "
        "supported");
  CHECK(parse_error("$[") ==
        "InputFilter \"$[\": position 2: expected an index, a slice, a "
        "quoted name or '*'");
  CHECK(parse_error("$[?(@.a)]") ==
        "InputFilter \"$[?(@.a)]\": position 2: expected an index, a "
        "slice, a quoted name or '*'");
  CHECK(parse_error("$[-]") == "InputFilter \"$[-]\": position 3: expected a digit");
  CHECK(parse_error("$[1:2:1]") ==
        "InputFilter \"$[1:2:1]\": position 5: slice steps are not "
        "supported");
  CHECK(parse_error("$[0:2,5:]") ==
        "InputFilter \"$[0:2,5:]\": position 6: only one slice per "
        "bracket is supported");
  CHECK(parse_error("$['a") == "InputFilter \"$['a\": position 4: unterminated quoted name");
  CHECK(parse_error("$['a',1]") == "InputFilter \"$['a',1]\": position 6: expected a quoted name");
  CHECK(parse_error("$[*") == "InputFilter \"$[*\": position 3: expected ']'");
  CHECK(parse_error("$[99999999999999999999]") ==
        "InputFilter \"$[99999999999999999999]\": position 20: index too large");
  CHECK(parse_error("$.a b") == "InputFilter \"$.a b\": position 3: expected '.' or '['");
}

TEST_CASE("JSONPath paths are at most 63 characters", "[json_path]") {
  const std::string longest = "$." + std::string(61, 'a');
  CHECK(parse_error(longest) == "parsed");
  CHECK(parse_error(longest + "b") ==
        "InputFilter \"" + longest + "b\": position 63: longer than 63 characters (64)");
}
