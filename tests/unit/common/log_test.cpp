// The two log formats: text for people, one JSON object per line for collectors, with stage
// lines attributed to their stage.
#include "pipeline/common/log.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace tandem::log {
namespace {

using nlohmann::json;
constexpr std::string_view t = "2024-05-01T12:00:00.123Z";

json parsed(std::string_view message, std::initializer_list<Field> fields = {},
            Level level = Level::info) {
  const auto line = format_line(Format::json, t, level, message, fields);
  INFO(line);
  REQUIRE(line.find('\n') == std::string::npos);
  return json::parse(line);
}

TEST_CASE("text lines are time, level and message, and fields are left to the message", "[log]") {
  CHECK(format_line(Format::text, t, Level::info, "endpoint 'x' stopped") ==
        "2024-05-01T12:00:00.123Z INFO  endpoint 'x' stopped");
  CHECK(format_line(Format::text, t, Level::error, "boom", {{"inference_id", "abc"}}) ==
        "2024-05-01T12:00:00.123Z ERROR boom");
}

TEST_CASE("json lines carry time, level, msg and the given fields, in that order", "[log]") {
  const auto line = format_line(Format::json, t, Level::warn, "invocation id=a status=424",
                                {{"inference_id", "a"},
                                 {"status", std::int64_t{424}},
                                 {"total_ms", 1.5},
                                 {"stages", RawJson{R"([{"stage":"a","ms":0.2,"status":200}])"}}});
  CHECK(line ==
        R"({"time":"2024-05-01T12:00:00.123Z","level":"warn","msg":"invocation id=a status=424",)"
        R"("inference_id":"a","status":424,"total_ms":1.5,)"
        R"("stages":[{"stage":"a","ms":0.2,"status":200}]})");
}

TEST_CASE("a stage's output line names the stage and keeps the stage's own text", "[log]") {
  const auto j = parsed("featurize | row 3: missing column \"age\"");
  CHECK(j["stage"] == "featurize");
  CHECK(j["msg"] == "row 3: missing column \"age\"");
  CHECK_FALSE(j.contains("container"));
  // Only a stage name (letters, digits, hyphens) before " | " counts.
  CHECK_FALSE(parsed("a b | c").contains("stage"));
  CHECK(parsed("a b | c")["msg"] == "a b | c");
  CHECK(parsed("container-2 | x")["stage"] == "container-2");
}

TEST_CASE("a supervisor event about a stage names the stage and its container", "[log]") {
  const auto j = parsed("stage 'model' (container-2) exited with status 3", {}, Level::warn);
  CHECK(j["stage"] == "model");
  CHECK(j["container"] == "container-2");
  CHECK(j["msg"] == "stage 'model' (container-2) exited with status 3");
  CHECK(j["level"] == "warn");
  CHECK_FALSE(parsed("stage 'a b' (container-1) x").contains("stage"));
  CHECK_FALSE(parsed("stage 'unterminated").contains("stage"));
}

TEST_CASE("control characters are escaped and invalid UTF-8 is replaced, never thrown", "[log]") {
  const auto j = parsed("a | tab\there \x01 bad \xff\xfe end");
  CHECK(j["msg"] == "tab\there \x01 bad \xEF\xBF\xBD\xEF\xBF\xBD end");
  CHECK(format_line(Format::json, t, Level::info, "x\ny").find('\n') == std::string::npos);
}

TEST_CASE("raw JSON that does not parse is kept as a string", "[log]") {
  CHECK(parsed("m", {{"stages", RawJson{"[oops"}}})["stages"] == "[oops");
}

TEST_CASE("format names", "[log]") {
  CHECK(parse_format("text") == Format::text);
  CHECK(parse_format("json") == Format::json);
  CHECK(parse_format("auto").has_value());
  CHECK_FALSE(parse_format("JSON").has_value());
  CHECK_FALSE(parse_format("").has_value());
}

}  // namespace
}  // namespace tandem::log

namespace tandem::log {
namespace {

TEST_CASE("outside values in a text line are bare tokens or quoted with escapes", "[log]") {
  CHECK(quoted("abc-123_x.y:z/@+") == "abc-123_x.y:z/@+");
  CHECK(quoted("") == "\"\"");
  CHECK(quoted("x status=500 error=\"forged\"") == R"("x status=500 error=\"forged\"")");
  CHECK(quoted("a\\b") == R"("a\\b")");
  CHECK(quoted("line\nnext\r\t\x01\x7f") == R"("line\nnext\r\t\x01\x7f")");
  CHECK(quoted("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
}

}  // namespace
}  // namespace tandem::log

namespace tandem::log {
namespace {

TEST_CASE("a throttled line is written at most once per interval, counting what it stands for",
          "[log]") {
  using namespace std::chrono_literals;
  Throttle throttle(10s);
  const auto t = std::chrono::steady_clock::time_point{} + 100s;
  CHECK(throttle.admit(t) == 1);  // the first occurrence is written at once
  CHECK(throttle.admit(t + 1s) == 0);
  CHECK(throttle.admit(t + 9s) == 0);
  CHECK(throttle.admit(t + 10s) == 3);  // itself and the two held back
  CHECK(throttle.admit(t + 11s) == 0);
  CHECK(throttle.admit(t + 60s) == 2);
}

}  // namespace
}  // namespace tandem::log
