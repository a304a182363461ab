// Comparing captured and replayed answers: CSV and JSON numbers within the tolerance (and its
// boundary), the first difference located and marked, byte comparison for anything else.
#include "pipeline/capture/compare.h"

#include <catch2/catch.hpp>

namespace tandem::capture {
namespace {

std::optional<Difference> csv(std::string_view a, std::string_view b, double tolerance = 1e-6) {
  return compare_answers({"text/csv", a}, {"text/csv", b}, tolerance);
}

std::optional<Difference> json(std::string_view a, std::string_view b, double tolerance = 1e-6) {
  return compare_answers({"application/json", a}, {"application/json", b}, tolerance);
}

TEST_CASE("numbers match within a tolerance relative to the larger one, absolute below 1") {
  CHECK(numbers_match(0.5, 0.5000005, 1e-6));
  CHECK_FALSE(numbers_match(0.5, 0.500002, 1e-6));
  CHECK(numbers_match(1000.0, 1000.0009, 1e-6));
  CHECK_FALSE(numbers_match(1000.0, 1000.002, 1e-6));
  CHECK(numbers_match(1.0, 1.0, 0));
  CHECK_FALSE(numbers_match(1.0, 1.0 + 1e-15, 0));
}

TEST_CASE("CSV: equal answers, and numbers within the tolerance, match") {
  CHECK_FALSE(csv("0.1,0.2\n0.3,0.4\n", "0.1,0.2\n0.3,0.4\n"));
  CHECK_FALSE(csv("0.1,0.2\n", "0.1000000001,2e-1\n"));
  CHECK_FALSE(csv("a,1\r\n", "a,1\n"));
}

TEST_CASE("CSV: the first differing field is named and marked") {
  const auto d = csv("0.1,0.2\n0.3,0.4\n", "0.1,0.2\n0.3,0.41\n");
  REQUIRE(d);
  CHECK(d->where == "row 2, field 2");
  CHECK(d->captured == "0.1,0.2\\n0.3,»0.4«\\n");
  CHECK(d->replayed == "0.1,0.2\\n0.3,»0.41«\\n");
}

TEST_CASE("CSV: the tolerance boundary") {
  CHECK_FALSE(csv("0.86150210", "0.86150300", 1e-5));
  CHECK(csv("0.86150210", "0.86150300", 1e-7));
  CHECK(csv("benign", "malignant", 1)->where == "row 1, field 1");
}

TEST_CASE("CSV: missing rows and fields") {
  CHECK(csv("1\n2\n", "1\n")->where == "row 2");
  CHECK(csv("1,2", "1")->where == "row 1, field 2");
}

TEST_CASE("JSON: values compared by path, numbers within the tolerance") {
  CHECK_FALSE(json(R"({"a":[1,2.5],"b":"x"})", R"({"b":"x","a":[1.0000000001,2.5]})"));
  const auto d = json(R"({"predictions":[{"label":"malignant","score":0.8615021}]})",
                      R"({"predictions":[{"label":"malignant","score":0.9}]})");
  REQUIRE(d);
  CHECK(d->where == "$.predictions[0].score");
  CHECK(d->captured == R"({"predictions":[{"label":"malignant","score":»0.8615021«}]})");
  CHECK(d->replayed == R"({"predictions":[{"label":"malignant","score":»0.9«}]})");
}

TEST_CASE("JSON: missing keys, extra keys, other types, other lengths") {
  CHECK(json(R"({"a":1,"b":2})", R"({"a":1})")->where == "$.b");
  CHECK(json(R"({"a":1})", R"({"a":1,"c":2})")->where == "$.c");
  CHECK(json(R"({"a":"1"})", R"({"a":1})")->where == "$.a");
  CHECK(json(R"([1,2])", R"([1,2,3])")->where == "$[2]");
}

TEST_CASE("JSON Lines are compared line by line") {
  const auto d = compare_answers({"application/jsonlines", "{\"a\":1}\n{\"a\":2}\n"},
                                 {"application/jsonlines", "{\"a\":1}\n{\"a\":3}\n"}, 1e-6);
  REQUIRE(d);
  CHECK(d->where == "line 2: $.a");
}

TEST_CASE("another content type is a difference") {
  const auto d = compare_answers({"text/csv; charset=utf-8", "1"}, {"application/json", "1"}, 1);
  REQUIRE(d);
  CHECK(d->where == "Content-Type");
  CHECK_FALSE(compare_answers({"text/csv; charset=utf-8", "1"}, {"text/csv", "1"}, 1));
}

TEST_CASE("a captured answer without a content type is compared as the replayed one says") {
  // AWS's LLM-monitoring capture schema: endpointOutput.observedContentType is null.
  CHECK_FALSE(compare_answers({"", R"({"text":"hi","score":1})"},
                              {"application/json", R"({"score":1.0, "text":"hi"})"}, 1e-6));
  const auto d =
      compare_answers({"", R"({"text":"hi"})"}, {"application/json", R"({"text":"ho"})"}, 1e-6);
  REQUIRE(d);
  CHECK(d->where == "$.text");
  CHECK_FALSE(compare_answers({"", "1,2.0"}, {"text/csv", "1,2"}, 1e-6));
  CHECK(compare_answers({"", "ab"}, {"application/octet-stream", "aX"}, 1)->where == "byte 1");
  CHECK_FALSE(compare_answers({"", "ab"}, {"", "ab"}, 1));
  // A captured content type and none replayed is still a difference.
  CHECK(compare_answers({"text/csv", "1"}, {"", "1"}, 1)->where == "Content-Type");
}

TEST_CASE("other content types, and bodies that do not parse, compare byte for byte") {
  CHECK_FALSE(compare_answers({"application/octet-stream", "\x01\x02"},
                              {"application/octet-stream", "\x01\x02"}, 1));
  const auto d = compare_answers({"application/octet-stream", "abcd"},
                                 {"application/octet-stream", "abXd"}, 1);
  REQUIRE(d);
  CHECK(d->where == "byte 2");
  CHECK(d->captured == "ab»c«d");
  CHECK(json("{broken", "{broken 2")->where == "byte 7");
}

TEST_CASE("JSON nested too deep to compare by value is compared byte for byte, and said so") {
  // 20,000 levels: walking, copying or printing such a value overflows the stack.
  const std::string deep = std::string(20'000, '[') + std::string(20'000, ']');
  CHECK_FALSE(json(deep, deep));
  const std::string other = std::string(20'000, '[') + "1" + std::string(20'000, ']');
  const auto d = json(deep, other);
  REQUIRE(d);
  CHECK(d->where ==
        "byte 20000 (captured answer: JSON nested deeper than 512 levels at byte 512; compared "
        "byte for byte)");
  CHECK(d->captured.size() < 1000);  // the answers are shown cut, around the difference
  CHECK(json(R"({"a":1})", deep)->where ==
        "byte 0 (replayed answer: JSON nested deeper than 512 levels at byte 512; compared byte "
        "for byte)");
  const auto lines = compare_answers({"application/jsonlines", "{}\n" + deep + "\n"},
                                     {"application/jsonlines", "{}\n" + other + "\n"}, 1e-6);
  REQUIRE(lines);
  CHECK(lines->where ==
        "byte 20003 (line 2: captured answer: JSON nested deeper than 512 levels at byte 512; "
        "compared byte for byte)");
  // 512 levels are still compared as JSON.
  const std::string ok_a = std::string(511, '[') + "1" + std::string(511, ']');
  const std::string ok_b = std::string(511, '[') + "2" + std::string(511, ']');
  CHECK(json("[" + ok_a + "]", "[" + ok_b + "]")->where.starts_with("$[0][0]"));
}

}  // namespace
}  // namespace tandem::capture
