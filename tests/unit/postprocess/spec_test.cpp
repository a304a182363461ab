// postprocess.json validation: what loads, and every error with its exact text.
#include "stages/postprocess/spec.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "stages/common/model_json.h"

namespace tandem::builtin::postprocess {
namespace {

using nlohmann::json;
using Lines = std::vector<std::string>;

Lines errors_of(const char* text) {
  try {
    parse_postprocess_spec(json::parse(text), "postprocess.json");
  } catch (const ModelFileError& error) {
    return error.lines();
  }
  FAIL("loaded without errors: " << text);
  return {};
}

TEST_CASE("the two examples load") {
  const auto threshold = parse_postprocess_spec(
      json::parse(R"({"format": "tandem-postprocess/1", "mode": "threshold", "threshold": 0.7,
                      "labels": ["benign", "malignant"]})"),
      "p");
  CHECK(threshold.mode == PostprocessSpec::Mode::threshold);
  CHECK(threshold.threshold == 0.7);
  CHECK(threshold.labels == std::vector<std::string>{"benign", "malignant"});

  const auto argmax =
      parse_postprocess_spec(json::parse(R"({"format": "tandem-postprocess/1", "mode": "argmax",
                      "labels": ["class_0", "class_1", "class_2"]})"),
                             "p");
  CHECK(argmax.mode == PostprocessSpec::Mode::argmax);
  CHECK(argmax.labels.size() == 3);
}

TEST_CASE("the threshold defaults to 0.5") {
  const auto spec = parse_postprocess_spec(
      json::parse(
          R"({"format": "tandem-postprocess/1", "mode": "threshold", "labels": ["n", "y"]})"),
      "p");
  CHECK(spec.threshold == 0.5);
}

TEST_CASE("errors: all reported, each with its path") {
  CHECK(errors_of("[]") == Lines{"postprocess.json: expected an object, got an array"});
  CHECK(errors_of("{}") == Lines{"postprocess.json: format: missing",
                                 "postprocess.json: mode: missing",
                                 "postprocess.json: labels: missing"});
  CHECK(errors_of(R"({"format": "tandem-postprocess/2", "mode": "top_k", "labels": "a",
                      "classes": 3})") ==
        Lines{"postprocess.json: classes: unknown key (expected format, mode, threshold, labels)",
              "postprocess.json: format: expected \"tandem-postprocess/1\", got "
              "\"tandem-postprocess/2\"",
              "postprocess.json: mode: expected \"threshold\" or \"argmax\", got \"top_k\"",
              "postprocess.json: labels: expected an array, got \"a\""});
  CHECK(errors_of(R"({"format": "tandem-postprocess/1", "mode": "threshold", "threshold": "high",
                      "labels": ["a", 2, "c"]})") ==
        Lines{"postprocess.json: labels[1]: expected a string, got 2",
              "postprocess.json: labels: expected 2 labels (below, at or above the threshold) for "
              "mode \"threshold\", got 3",
              "postprocess.json: threshold: expected a number, got \"high\""});
  CHECK(errors_of(R"({"format": "tandem-postprocess/1", "mode": "argmax", "threshold": 0.5,
                      "labels": ["only"]})") ==
        Lines{"postprocess.json: labels: expected at least 2 labels for mode \"argmax\", got 1",
              "postprocess.json: threshold: only used with mode \"threshold\"; remove it for "
              "\"argmax\""});
}

TEST_CASE("load_postprocess_spec names the file") {
  char name[] = "/tmp/postprocess-spec-XXXXXX";
  const int fd = ::mkstemp(name);
  REQUIRE(fd >= 0);
  ::close(fd);
  const std::filesystem::path file = name;
  std::ofstream(file)
      << R"({"format": "tandem-postprocess/1", "mode": "argmax", "labels": [1, 2]})";
  CHECK_THROWS_WITH(load_postprocess_spec(file),
                    file.string() + ": labels[0]: expected a string, got 1\n" + file.string() +
                        ": labels[1]: expected a string, got 2");
  std::ofstream(file) << "not json";
  CHECK_THROWS_WITH(load_postprocess_spec(file),
                    file.string() +
                        ": invalid JSON: parse error at line 1, column 2: syntax error "
                        "while parsing value - invalid literal; last read: 'no'");
  std::filesystem::remove(file);
  CHECK_THROWS_WITH(load_postprocess_spec(file),
                    file.string() + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace tandem::builtin::postprocess
