// The featurizer: every step, missing values, unknown categories, the input formats, and every
// request error with its exact text.
#include "stages/featurize/featurizer.h"

#include <catch2/catch.hpp>
#include <string>

#include "tests/unit/featurize/example_spec.h"

namespace tandem::builtin::featurize {
namespace {

using nlohmann::json;

const char* const example = testing::kExampleSpec;

Featurizer featurizer_of(const char* spec, const char* patch = "{}") {
  json document = json::parse(spec);
  document.merge_patch(json::parse(patch));
  return Featurizer(parse_featurize_spec(document, "featurize.json"));
}

// A featurizer over `columns` input columns with one transformer of `steps` over all of them.
Featurizer with_steps(int columns, const std::string& steps, const char* extra = "") {
  std::string indexes;
  for (int i = 0; i < columns; ++i) indexes += (i ? ", " : "") + std::to_string(i);
  return featurizer_of((R"({"format": "tandem-featurize/1", "n_input_columns": )" +
                        std::to_string(columns) + extra + R"(, "transformers": [{"columns": [)" +
                        indexes + "], \"steps\": " + steps + "}]}")
                           .c_str());
}

// The CSV the featurizer answers, or "<status>: <message>".
std::string run(const Featurizer& featurizer, std::string_view body,
                InputFormat format = InputFormat::csv) {
  const auto result = featurizer.transform(body, format);
  if (!result) return std::to_string(result.error().status) + ": " + result.error().message;
  return *result;
}

std::string invoke(const Featurizer& featurizer, std::string_view body,
                   std::string_view content_type, std::string_view accept = "") {
  const auto result = featurizer.invoke(body, content_type, accept);
  if (!result) return std::to_string(result.error().status) + ": " + result.error().message;
  CHECK(result->content_type == "text/csv");
  return result->body;
}

TEST_CASE("the example, with values computed by scikit-learn's arithmetic") {
  const auto featurizer = featurizer_of(example);
  CHECK(featurizer.output_width() == 5);
  // (30 - 40.1) / 12, (2 - 2.5) / 1.5, red; then imputed 41.5 and 3.0, "missing".
  CHECK(run(featurizer, "30,red,2,x\n,,,1\n") ==
        "-0.8416666666666668,-0.3333333333333333,0,0,1\n"
        "0.11666666666666654,0.3333333333333333,0,1,0\n");
}

TEST_CASE("impute: empty and nan fields (any case) are missing, strings and numbers fill") {
  const auto featurizer = with_steps(3, R"([{"type": "impute", "fill": [1.5, "7", -2]}])");
  CHECK(run(featurizer, ",NaN,nan\n  ,NAN, \n4,5,6\n") == "1.5,7,-2\n1.5,7,-2\n4,5,6\n");
}

TEST_CASE("scale: (x - mean) / scale, with mean 0 and scale 1 when omitted and 0 read as 1") {
  CHECK(run(with_steps(2, R"([{"type": "scale", "mean": [1, 2], "scale": [2, 0]}])"), "5,10\n") ==
        "2,8\n");
  CHECK(run(with_steps(2, R"([{"type": "scale", "scale": [4, 0.5]}])"), "2,3\n") == "0.5,6\n");
  CHECK(run(with_steps(2, R"([{"type": "scale", "mean": [1, 1]}])"), " 2 ,+3\n") == "1,2\n");
}

TEST_CASE("a missing value without an imputer is written as an empty field") {
  CHECK(run(with_steps(3, R"([{"type": "scale", "mean": [1, 1, 1]}])"), ",nan,3\n1,,\n") ==
        ",,2\n0,,\n");
  // Alone on its line an empty field would be an empty line, which the next stage skips.
  CHECK(run(with_steps(1, "[]"), "\n5\nnan\n") == "5\nnan\n");
}

TEST_CASE("onehot with string categories compares text exactly") {
  const auto featurizer = with_steps(
      1, R"([{"type": "onehot", "categories": [["a", "B", "1"]], "handle_unknown": "ignore"}])");
  CHECK(run(featurizer, "a\nB\nb\n1\n1.0\n\"a\"\n a\n") ==
        "1,0,0\n0,1,0\n0,0,0\n0,0,1\n0,0,0\n1,0,0\n0,0,0\n");
  // JSON numbers compare as their shortest text: 1 and 1.0 are "1".
  CHECK(run(featurizer, R"([[1], [1.0], ["a"], [2], [null]])", InputFormat::json) ==
        "0,0,1\n0,0,1\n1,0,0\n0,0,0\n0,0,0\n");
}

TEST_CASE("onehot with numeric categories compares values") {
  const auto featurizer = with_steps(
      1, R"([{"type": "onehot", "categories": [[1, 2.5, 10]], "handle_unknown": "ignore"}])");
  CHECK(run(featurizer, "1\n1.0\n2.50\n1e1\nx\n3\n") ==
        "1,0,0\n1,0,0\n0,1,0\n0,0,1\n0,0,0\n0,0,0\n");
  CHECK(run(featurizer, R"([[2.5], ["10"]])", InputFormat::json) == "0,1,0\n0,0,1\n");
}

TEST_CASE("onehot: several columns, then steps over the encoded columns") {
  const auto featurizer = with_steps(2, R"([
      {"type": "onehot", "categories": [["x", "y"], [0, 1, 2]]},
      {"type": "scale", "mean": [0.5, 0.5, 0, 0, 0], "scale": [0.5, 0.5, 1, 1, 2]}])");
  CHECK(featurizer.output_width() == 5);
  CHECK(run(featurizer, "y,2\nx,0\n") == "-1,1,0,0,0.5\n1,-1,1,0,0\n");
}

TEST_CASE("unknown categories: ignore gives zeros, error names row, column and value") {
  const char* steps = R"([{"type": "onehot", "categories": [["blue", "red"]]}])";
  const auto strict = with_steps(1, steps, R"(, "input_columns": ["color"])");
  CHECK(run(strict, "red\npurple\n") ==
        "400: row 2, column 0 (\"color\"): unknown category \"purple\"");
  CHECK(run(strict, "red\n\n\nnan\n") ==
        "400: row 2, column 0 (\"color\"): unknown category (missing value)");
  CHECK(run(strict, "[[\"red\"], [3.5]]", InputFormat::json) ==
        "400: row 2, column 0 (\"color\"): unknown category 3.5");
  const auto unnamed = with_steps(1, steps);
  CHECK(run(unnamed, "purple") == "400: row 1, column 0: unknown category \"purple\"");
}

TEST_CASE("remainder passthrough appends the unused columns, in input order") {
  const auto featurizer = featurizer_of(example, R"({"remainder": "passthrough"})");
  CHECK(featurizer.output_width() == 6);
  CHECK(run(featurizer, "30,red,2,7\n30,red,2,\n") ==
        "-0.8416666666666668,-0.3333333333333333,0,0,1,7\n"
        "-0.8416666666666668,-0.3333333333333333,0,0,1,\n");
  CHECK(run(featurizer, "30,red,2,abc\n") ==
        "400: row 1, column 3 (\"id\"): expected a number, "
        "got \"abc\"");
  // Only passthrough: every column as it came, as numbers.
  const auto only = featurizer_of(R"({"format": "tandem-featurize/1", "n_input_columns": 3,
                                      "transformers": [], "remainder": "passthrough"})");
  CHECK(run(only, "1,2.50,-3e2\n") == "1,2.5,-300\n");
}

TEST_CASE("a column may feed several transformers, remainder drop drops the rest") {
  const auto featurizer = featurizer_of(R"({"format": "tandem-featurize/1", "n_input_columns": 3,
      "transformers": [{"columns": [0], "steps": []},
                       {"columns": [0, 1], "steps": [{"type": "scale", "mean": [1, 1]}]}]})");
  CHECK(run(featurizer, "5,6,7\n") == "5,4,5\n");
}

TEST_CASE("non-numeric values reaching a numeric output or step are a 400") {
  CHECK(run(featurizer_of(example), "30,red,2,x\n1,blue,3,y\n2,red,abc,z\n") ==
        "400: row 3, column 2 (\"size\"): expected a number, got \"abc\"");
  CHECK(run(with_steps(2, "[]"), "1,2\n3,four\n") ==
        "400: row 2, column 1: expected a number, got \"four\"");
  // An imputed string must also be a number by the end.
  CHECK(run(with_steps(1, R"([{"type": "impute", "fill": ["none"]}])"), "\"\"\n") ==
        "400: row 1, column 0: expected a number, got \"none\"");
}

TEST_CASE("rows with the wrong number of columns") {
  CHECK(run(featurizer_of(example), "30,red,2,x\n30,red,2\n") ==
        "400: row 2: expected 4 columns, got 3");
  CHECK(run(featurizer_of(example), "30,red,2,x,5\n") == "400: row 1: expected 4 columns, got 5");
}

TEST_CASE("quoted CSV fields") {
  const auto featurizer =
      with_steps(2, R"([{"type": "onehot", "categories": [["a,b", "say \"hi\""], [1, 2]]}])");
  CHECK(run(featurizer, "\"a,b\",\"2\"\r\n\"say \"\"hi\"\"\",1") == "1,0,0,1\n0,1,1,0\n");
  CHECK(run(featurizer, "\"a,b\n") == "400: row 1: unterminated quoted field");
}

TEST_CASE("JSON bodies: instances, rows, one row") {
  const auto featurizer = featurizer_of(example);
  const std::string expected =
      "-0.8416666666666668,-0.3333333333333333,0,0,1\n"
      "0.11666666666666654,0.3333333333333333,0,1,0\n";
  CHECK(run(featurizer, R"({"instances": [[30, "red", 2, "x"], [null, null, null, 1]]})",
            InputFormat::json) == expected);
  CHECK(run(featurizer, R"([[30, "red", "2", "x"], ["", "nan", null, 1]])", InputFormat::json) ==
        expected);
  CHECK(run(featurizer, R"([30, "red", 2, "x"])", InputFormat::json) ==
        "-0.8416666666666668,-0.3333333333333333,0,0,1\n");
}

TEST_CASE("JSON body errors") {
  const auto featurizer = featurizer_of(example);
  const auto json_error = [&](std::string_view body) {
    return run(featurizer, body, InputFormat::json);
  };
  CHECK(json_error("[[30, \"red\", 2, \"x\"], 5]") ==
        "400: row 2: expected an array of values, got 5");
  CHECK(json_error("[30, \"red\", true, \"x\"]") ==
        "400: row 1, column 2 (\"size\"): expected a number, a string or null, got true");
  CHECK(json_error("[[30, [1], 2, \"x\"]]") ==
        "400: row 1, column 1 (\"color\"): expected a number, a string or null, got an array");
  CHECK(
      json_error(R"({"inputs": []})") ==
      R"(400: expected {"instances": [[...], ...]}, [[...], ...] or [...], got an object without "instances")");
  CHECK(json_error("\"x\"") ==
        R"(400: expected {"instances": [[...], ...]}, [[...], ...] or [...], got "x")");
  CHECK(json_error("[1, 2") ==
        "400: invalid JSON: parse error at line 1, column 6: syntax error while parsing array - "
        "unexpected end of input; expected ']'");
  // A number beyond a double is nlohmann's out_of_range, not a parse_error: still a 400.
  CHECK(json_error("[[1e400, \"red\", 2, \"x\"]]").starts_with("400: invalid JSON: "));
  CHECK(json_error("[]") == "400: the request has no rows");
  CHECK(json_error(R"({"instances": []})") == "400: the request has no rows");
}

TEST_CASE("JSON lines: one array per line, blank lines skipped") {
  const auto featurizer = featurizer_of(example);
  CHECK(run(featurizer, "[30, \"red\", 2, \"x\"]\n\n[null, null, null, 1]\r\n",
            InputFormat::jsonlines) ==
        "-0.8416666666666668,-0.3333333333333333,0,0,1\n"
        "0.11666666666666654,0.3333333333333333,0,1,0\n");
  CHECK(run(featurizer, "[30, \"red\", 2, \"x\"]\n{\"a\": 1}\n", InputFormat::jsonlines) ==
        "400: row 2: expected an array of values, got an object");
  CHECK(run(featurizer, "[30, \"red\", 2, \"x\"]\n\n[1, 2\n", InputFormat::jsonlines) ==
        "400: row 2: invalid JSON: parse error at line 1, column 6: syntax error while parsing "
        "array - unexpected end of input; expected ']'");
}

TEST_CASE("a body without rows is a 400") {
  CHECK(run(featurizer_of(example), "") == "400: the request has no rows");
  CHECK(run(featurizer_of(example), "\n\r\n") == "400: the request has no rows");
  CHECK(run(featurizer_of(example), "", InputFormat::jsonlines) == "400: the request has no rows");
}

TEST_CASE("invoke: Content-Type picks the format, parameters and case ignored") {
  const auto featurizer = featurizer_of(example);
  const std::string expected = "-0.8416666666666668,-0.3333333333333333,0,0,1\n";
  CHECK(invoke(featurizer, "30,red,2,x", "text/csv") == expected);
  CHECK(invoke(featurizer, "30,red,2,x", "Text/CSV; charset=utf-8") == expected);
  CHECK(invoke(featurizer, "30,red,2,x", "") == expected);  // none: text/csv
  CHECK(invoke(featurizer, R"([30, "red", 2, "x"])", "application/json; charset=utf-8") ==
        expected);
  CHECK(invoke(featurizer, R"([30, "red", 2, "x"])", "application/jsonlines") == expected);
  CHECK(invoke(featurizer, "x", "application/x-npy") ==
        "415: unsupported Content-Type \"application/x-npy\": send text/csv, application/json "
        "or application/jsonlines");
}

TEST_CASE("invoke: Accept must allow text/csv") {
  const auto featurizer = featurizer_of(example);
  const std::string expected = "-0.8416666666666668,-0.3333333333333333,0,0,1\n";
  CHECK(invoke(featurizer, "30,red,2,x", "text/csv", "*/*") == expected);
  CHECK(invoke(featurizer, "30,red,2,x", "text/csv", "text/csv; charset=utf-8") == expected);
  CHECK(invoke(featurizer, "30,red,2,x", "text/csv", "application/json") ==
        "406: unsupported Accept \"application/json\": use text/csv");
}

}  // namespace
}  // namespace tandem::builtin::featurize
