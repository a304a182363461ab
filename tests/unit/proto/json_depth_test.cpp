// The depth bound every parse of outside JSON goes through: levels counted outside strings
// only, the offending byte located, the limit itself allowed, and parse_bounded's messages.
#include "tandem/proto/json_depth.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace tandem::proto::json {
namespace {

std::string nested(std::size_t levels, std::string_view inner = "") {
  std::string text;
  for (std::size_t i = 0; i < levels; ++i) text += i % 2 == 0 ? "[" : "{\"k\":";
  text += inner.empty() ? "1" : inner;
  for (std::size_t i = levels; i-- > 0;) text += i % 2 == 0 ? "]" : "}";
  return text;
}

TEST_CASE("the limit itself is allowed, and one level more is located") {
  CHECK_FALSE(too_deep_at(nested(512)));
  const std::string deeper = nested(513);
  const auto at = too_deep_at(deeper);
  REQUIRE(at);
  CHECK(deeper[*at] == (512 % 2 == 0 ? '[' : '{'));
  CHECK(too_deep_at(std::string(20'000, '['), 3) == 3u);
  CHECK_FALSE(too_deep_at("[[[]]]", 3));
  CHECK_FALSE(too_deep_at("[][][][][][]", 1));  // siblings are not depth
}

TEST_CASE("brackets inside strings, escaped quotes included, are not nesting") {
  const std::string brackets = "[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') +
                               "\\\\\"]";  // ends with an escaped backslash, then the quote
  CHECK_FALSE(too_deep_at(brackets, 1));
  CHECK(too_deep_at("[\"\\\"\",[[", 2) == 7u);  // the string holds an escaped quote only
}

TEST_CASE("text that is not JSON is bounded, not judged") {
  CHECK_FALSE(too_deep_at("]]]]}}}}"));
  CHECK_FALSE(too_deep_at("\"unterminated [[[[", 1));
  CHECK(too_deep_at("]][[", 1) == 3u);  // closers before any opener do not go below zero
}

TEST_CASE("parse_bounded: a value, or a discarded one and why, with where") {
  std::string error;
  auto value = parse_bounded<nlohmann::json>(R"({"a":[1,2]})", error);
  CHECK(value == nlohmann::json{{"a", {1, 2}}});
  CHECK(error.empty());

  CHECK(parse_bounded<nlohmann::ordered_json>(std::string(20'000, '[') + std::string(20'000, ']'),
                                              error)
            .is_discarded());
  CHECK(error == "JSON nested deeper than 512 levels at byte 512");

  CHECK(parse_bounded<nlohmann::json>("{\"a\": tru}", error).is_discarded());
  CHECK(error.starts_with("not valid JSON: parse error at line 1, column 10: syntax error"));

  CHECK(parse_bounded<nlohmann::json>("1e400", error).is_discarded());
  CHECK(error.starts_with("not valid JSON: "));
  CHECK(parse_bounded<nlohmann::json>("[[1]]", error, 1).is_discarded());
  CHECK(error == "JSON nested deeper than 1 levels at byte 1");
}

}  // namespace
}  // namespace tandem::proto::json
