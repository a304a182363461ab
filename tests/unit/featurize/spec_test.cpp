// featurize.json validation: what loads, and every error with its exact text.
#include "stages/featurize/spec.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "stages/common/model_json.h"
#include "tests/unit/featurize/example_spec.h"

namespace tandem::builtin::featurize {
namespace {

using nlohmann::json;
using Lines = std::vector<std::string>;

const char* const example = testing::kExampleSpec;

// The example with `patch` (a JSON merge patch) applied.
json example_with(const char* patch) {
  json document = json::parse(example);
  document.merge_patch(json::parse(patch));
  return document;
}

// A one-transformer spec over 2 columns with these steps.
json with_steps(const char* steps) {
  return json::parse(std::string(R"({"format": "tandem-featurize/1", "n_input_columns": 2,
      "transformers": [{"name": "t", "columns": [0, 1], "steps": )") +
                     steps + "}]}");
}

Lines errors_of(const json& document) {
  try {
    parse_featurize_spec(document, "featurize.json");
  } catch (const ModelFileError& error) {
    return error.lines();
  }
  FAIL("loaded without errors: " << document.dump());
  return {};
}

TEST_CASE("the example loads") {
  const auto spec = parse_featurize_spec(json::parse(example), "featurize.json");
  CHECK(spec.n_input_columns == 4);
  CHECK(spec.input_columns == std::vector<std::string>{"age", "color", "size", "id"});
  REQUIRE(spec.transformers.size() == 2);
  CHECK(spec.transformers[0].name == "num");
  CHECK(spec.transformers[0].columns == std::vector<std::size_t>{0, 2});
  REQUIRE(spec.transformers[0].steps.size() == 2);
  const auto& scale = std::get<ScaleStep>(spec.transformers[0].steps[1]);
  CHECK(scale.mean == std::vector<double>{40.1, 2.5});
  CHECK(scale.scale == std::vector<double>{12.0, 1.5});
  const auto& onehot = std::get<OneHotStep>(spec.transformers[1].steps[1]);
  CHECK(onehot.ignore_unknown);
  REQUIRE(onehot.categories.size() == 1);
  CHECK_FALSE(onehot.categories[0].numeric);
  CHECK(onehot.categories[0].count == 3);
  CHECK(onehot.categories[0].strings.at("red") == 2);
  CHECK(spec.passthrough_columns.empty());
}

TEST_CASE(
    "defaults: no names, remainder drop, mean 0, scale 1 (and 0 read as 1), error on "
    "unknown categories") {
  const auto spec = parse_featurize_spec(
      with_steps(R"([{"type": "scale", "scale": [0, 2]}, {"type": "scale", "mean": [1, 2]},
                     {"type": "onehot", "categories": [[1, 2.5], ["a"]]}])"),
      "f");
  CHECK(spec.input_columns.empty());
  CHECK(spec.passthrough_columns.empty());
  const auto& steps = spec.transformers[0].steps;
  CHECK(std::get<ScaleStep>(steps[0]).mean == std::vector<double>{0, 0});
  CHECK(std::get<ScaleStep>(steps[0]).scale == std::vector<double>{1, 2});
  CHECK(std::get<ScaleStep>(steps[1]).scale == std::vector<double>{1, 1});
  const auto& onehot = std::get<OneHotStep>(steps[2]);
  CHECK_FALSE(onehot.ignore_unknown);
  CHECK(onehot.categories[0].numeric);
  CHECK(onehot.categories[0].numbers.at(2.5) == 1);
}

TEST_CASE("remainder passthrough keeps the unused columns in input order") {
  const auto spec =
      parse_featurize_spec(example_with(R"({"remainder": "passthrough", "n_input_columns": 6,
                       "input_columns": null})"),
                           "f");
  CHECK(spec.passthrough_columns == std::vector<std::size_t>{3, 4, 5});
}

TEST_CASE("the brief's example error") {
  CHECK(errors_of(example_with(
            R"({"transformers": [{"name": "num", "columns": [0, 2], "steps": []},
                {"name": "cat", "columns": [1], "steps": [{"type": "impute", "fill": [1, 2]}]}]})")) ==
        Lines{"featurize.json: transformers[1].steps[0].fill: expected 1 value, got 2"});
}

TEST_CASE("top-level errors are all reported") {
  CHECK(errors_of(json::parse("[]")) == Lines{"featurize.json: expected an object, got an array"});
  CHECK(errors_of(json::parse(R"({"format": "tandem-featurize/2", "n_input_columns": 0,
                                  "extra": 1, "remainder": "keep"})")) ==
        Lines{"featurize.json: extra: unknown key (expected format, n_input_columns, "
              "input_columns, transformers, remainder)",
              "featurize.json: format: expected \"tandem-featurize/1\", got "
              "\"tandem-featurize/2\"",
              "featurize.json: n_input_columns: expected a whole number from 1 to 1000000, got 0",
              "featurize.json: remainder: expected \"drop\" or \"passthrough\", got \"keep\""});
  CHECK(errors_of(json::parse("{}")) ==
        Lines{"featurize.json: format: missing", "featurize.json: n_input_columns: missing"});
  CHECK(errors_of(example_with(R"({"transformers": []})")) ==
        Lines{"featurize.json: transformers: expected at least 1 transformer when remainder is "
              "\"drop\""});
}

TEST_CASE("input_columns must name every column") {
  CHECK(errors_of(example_with(R"({"input_columns": ["a", "b"]})")) ==
        Lines{"featurize.json: input_columns: expected 4 names (n_input_columns), got 2"});
  CHECK(errors_of(example_with(R"({"input_columns": ["a", "b", 3, "d"]})")) ==
        Lines{"featurize.json: input_columns[2]: expected a string, got 3"});
}

TEST_CASE("transformer errors") {
  CHECK(errors_of(example_with(R"({"transformers": [7, {"columns": [4, -1, 1.5], "steps": {},
                                                        "kind": "x"}]})")) ==
        Lines{"featurize.json: transformers[0]: expected an object, got 7",
              "featurize.json: transformers[1].kind: unknown key (expected name, columns, steps)",
              "featurize.json: transformers[1].columns[0]: expected a whole number from 0 to 3, "
              "got 4",
              "featurize.json: transformers[1].columns[1]: expected a whole number from 0 to 3, "
              "got -1",
              "featurize.json: transformers[1].columns[2]: expected a whole number from 0 to 3, "
              "got 1.5",
              "featurize.json: transformers[1].steps: expected an array, got an object"});
  // Steps are checked against the number of columns even when an index is wrong.
  CHECK(errors_of(example_with(R"({"transformers": [{"columns": [0, 9],
                                   "steps": [{"type": "impute", "fill": [1]}]}]})")) ==
        Lines{"featurize.json: transformers[0].columns[1]: expected a whole number from 0 to 3, "
              "got 9",
              "featurize.json: transformers[0].steps[0].fill: expected 2 values, got 1"});
  CHECK(errors_of(example_with(R"({"transformers": [{"columns": [], "steps": []}]})")) ==
        Lines{"featurize.json: transformers[0].columns: expected at least 1 column, got none"});
  CHECK(errors_of(example_with(R"({"transformers": [{"columns": [0]}]})")) ==
        Lines{"featurize.json: transformers[0].steps: missing"});
}

TEST_CASE("step errors") {
  CHECK(errors_of(with_steps(R"([{"type": "minmax"}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].type: unknown step type \"minmax\" "
              "(expected impute, scale or onehot)"});
  CHECK(errors_of(with_steps(R"([{"fill": [1, 2]}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].type: missing"});
  CHECK(errors_of(with_steps(R"([{"type": "impute", "fill": [1, null], "strategy": "mean"}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].strategy: unknown key (expected type, "
              "fill)",
              "featurize.json: transformers[0].steps[0].fill[1]: expected a number or a string, "
              "got null"});
  CHECK(errors_of(with_steps(R"([{"type": "scale", "mean": [1], "scale": [1, "x"]}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].mean: expected 2 values, got 1",
              "featurize.json: transformers[0].steps[0].scale[1]: expected a number, got \"x\""});
}

TEST_CASE("onehot errors") {
  CHECK(errors_of(with_steps(R"([{"type": "onehot", "categories": [["a"], ["b"]],
                                  "drop": "first", "handle_unknown": "infrequent_if_exist"}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].drop: not supported (got \"first\"): "
              "export the encoder with drop=None",
              "featurize.json: transformers[0].steps[0].handle_unknown: expected \"ignore\" or "
              "\"error\", got \"infrequent_if_exist\""});
  CHECK(errors_of(with_steps(R"([{"type": "onehot", "categories": [["a"]]}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].categories: expected 2 lists (one per "
              "column), got 1"});
  CHECK(errors_of(with_steps(R"([{"type": "onehot", "categories": [["a", 1], []]}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].categories[0][1]: expected a string like "
              "the first category, got 1"});
  CHECK(errors_of(with_steps(R"([{"type": "onehot", "categories": [[1], []]}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].categories[1]: expected at least 1 "
              "category, got none"});
  CHECK(errors_of(with_steps(R"([{"type": "onehot", "categories": [[1, 1.0], ["a"]]}])")) ==
        Lines{"featurize.json: transformers[0].steps[0].categories[0][1]: 1.0 appears twice"});
  // drop: null is what scikit-learn's default (None) exports as.
  CHECK_NOTHROW(parse_featurize_spec(
      with_steps(R"([{"type": "onehot", "categories": [["a"], ["b"]], "drop": null}])"), "f"));
}

TEST_CASE("a step's width is what the steps before it produce") {
  // Two columns one-hot encoded into 3 + 2 columns: the scaler after it needs 5 values.
  const char* onehot = R"({"type": "onehot", "categories": [["a", "b", "c"], [0, 1]]})";
  CHECK_NOTHROW(parse_featurize_spec(
      with_steps(
          (std::string("[") + onehot + R"(, {"type": "scale", "mean": [0, 0, 0, 0, 0]}])").c_str()),
      "f"));
  CHECK(errors_of(with_steps(
            (std::string("[") + onehot + R"(, {"type": "impute", "fill": [0, 0]}])").c_str())) ==
        Lines{"featurize.json: transformers[0].steps[1].fill: expected 5 values, got 2"});
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/featurize-spec-XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST_CASE("load_featurize_spec names the file") {
  const TempFile good(example);
  CHECK(load_featurize_spec(good.path()).transformers.size() == 2);

  const TempFile bad_json("{\"format\": ");
  CHECK_THROWS_WITH(load_featurize_spec(bad_json.path()),
                    bad_json.path().string() +
                        ": invalid JSON: parse error at line 1, column 12: syntax error while "
                        "parsing value - unexpected end of input; expected '[', '{', or a literal");

  const TempFile bad_spec(R"({"format": "x", "n_input_columns": 1, "transformers": []})");
  CHECK_THROWS_WITH(
      load_featurize_spec(bad_spec.path()),
      bad_spec.path().string() + ": format: expected \"tandem-featurize/1\", got \"x\"");
  const TempFile two_errors(R"({"format": "x", "n_input_columns": 1, "transformers": [{}]})");
  CHECK_THROWS_WITH(load_featurize_spec(two_errors.path()),
                    two_errors.path().string() +
                        ": format: expected \"tandem-featurize/1\", got \"x\"\n" +
                        two_errors.path().string() + ": transformers[0].columns: missing\n" +
                        two_errors.path().string() + ": transformers[0].steps: missing");

  CHECK_THROWS_WITH(load_featurize_spec("/nonexistent/featurize.json"),
                    "/nonexistent/featurize.json: cannot open: No such file or directory");
}

}  // namespace
}  // namespace tandem::builtin::featurize
