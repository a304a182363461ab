#include "pipeline/transform/output_assembly.h"

#include <catch2/catch.hpp>

using namespace tandem::transform;

namespace {
std::vector<std::string> contents(const std::vector<OutputLine>& lines) {
  std::vector<std::string> out;
  for (const OutputLine& line : lines) out.emplace_back(line.content);
  return out;
}
}  // namespace

TEST_CASE("AssembleWith None concatenates responses as they are", "[assembly]") {
  CHECK(assemble_response(AssembleWith::none, "0.1") == "0.1");
  CHECK(assemble_response(AssembleWith::none, "0.1\n0.2\n") == "0.1\n0.2\n");
  CHECK(assemble_response(AssembleWith::none, "") == "");
}

TEST_CASE("AssembleWith Line ends every record's output with one newline", "[assembly]") {
  CHECK(assemble_response(AssembleWith::line, "0.1") == "0.1\n");
  CHECK(assemble_response(AssembleWith::line, "0.1\n0.2") == "0.1\n0.2\n");
  CHECK(assemble_response(AssembleWith::line, "0.1\n0.2\n") == "0.1\n0.2\n");
  CHECK(assemble_response(AssembleWith::line, "0.1\r\n") == "0.1\r\n");
  CHECK(assemble_response(AssembleWith::line, "") == "\n");
}

TEST_CASE("A response is cut into its records' outputs", "[assembly]") {
  SECTION("one record: the whole response, one final line break set apart") {
    const auto lines = split_response("{\n \"a\": 1\n}\n", 1);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].content == "{\n \"a\": 1\n}");
    CHECK(lines[0].line_break == "\n");
    CHECK(contents(split_response("", 1)) == std::vector<std::string>{""});
  }
  SECTION("several records: one per line") {
    const auto lines = split_response("a\r\nb\nc", 3);
    CHECK(contents(lines) == std::vector<std::string>{"a", "b", "c"});
    CHECK(lines[0].line_break == "\r\n");
    CHECK(lines[2].line_break.empty());
    CHECK(contents(split_response("a\nb\n", 2)) == std::vector<std::string>{"a", "b"});
    CHECK(contents(split_response("a\n\nb\n", 2)) == std::vector<std::string>{"a", "", "b"});
    CHECK(split_response("", 2).empty());
  }
}

TEST_CASE("Rewritten outputs are assembled per AssembleWith", "[assembly]") {
  std::string out;
  append_output_record(out, AssembleWith::line, "x", "");
  append_output_record(out, AssembleWith::line, "y", "\r\n");
  CHECK(out == "x\ny\n");
  out.clear();
  append_output_record(out, AssembleWith::none, "x", "\r\n");
  append_output_record(out, AssembleWith::none, "y", "");
  CHECK(out == "x\r\ny");
}
