// The error collector the pipeline.yaml, batch-job and model-file readers share: key paths,
// the "expected X, got Y" wording, values cut short, and each error's line naming its source.
#include "tandem/proto/field_errors.h"

#include <catch2/catch.hpp>

namespace tandem::proto {
namespace {

TEST_CASE("child_path and element_path build key paths") {
  CHECK(child_path("", "mode") == "mode");
  CHECK(child_path("TransformInput", "SplitType") == "TransformInput.SplitType");
  CHECK(child_path("stages[1]", "env") == "stages[1].env");
  CHECK(element_path("labels", 2) == "labels[2]");
  CHECK(element_path("", 0) == "[0]");
  CHECK(element_path(child_path("a", "b"), 10) == "a.b[10]");
}

TEST_CASE("expected words a type or value error") {
  CHECK(expected("a string", "42") == "expected a string, got 42");
  CHECK(expected("one of None, Line", "\"Lines\"") == "expected one of None, Line, got \"Lines\"");
}

TEST_CASE("shortened cuts a value and marks the cut") {
  CHECK(shortened("abc", 3) == "abc");
  CHECK(shortened("abcd", 3) == "abc...");
  CHECK(shortened("", 0) == "");
  CHECK(shortened("a", 0) == "...");
}

TEST_CASE("FieldErrors keeps every error in order, each line naming its source") {
  FieldErrors errors("job.json");
  CHECK(errors.empty());
  CHECK(errors.lines().empty());
  CHECK(errors.text() == "");
  errors.add("TransformInput.SplitType", expected("one of None, Line", "\"Lines\""));
  errors.add("", "not valid JSON");
  errors.add("stages[0]", "required key is missing", 3, 5);
  CHECK_FALSE(errors.empty());
  CHECK(errors.source() == "job.json");
  REQUIRE(errors.list().size() == 3);
  CHECK(errors.list()[2].line == 3);
  CHECK(errors.list()[2].column == 5);
  CHECK(errors.list()[0].line == 0);
  CHECK(errors.lines() ==
        std::vector<std::string>{
            "job.json: TransformInput.SplitType: expected one of None, Line, got \"Lines\"",
            "job.json: not valid JSON", "job.json: stages[0]: required key is missing"});
  CHECK(errors.text() ==
        "job.json: TransformInput.SplitType: expected one of None, Line, got \"Lines\"\n"
        "job.json: not valid JSON\njob.json: stages[0]: required key is missing");
}

TEST_CASE("FieldErrors::take hands the errors on") {
  FieldErrors errors("pipeline.yaml");
  errors.add("stages", "expected a list of stages, got null", 1, 1);
  const std::vector<FieldError> taken = errors.take();
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].path == "stages");
  CHECK(taken[0].message == "expected a list of stages, got null");
}

}  // namespace
}  // namespace tandem::proto
