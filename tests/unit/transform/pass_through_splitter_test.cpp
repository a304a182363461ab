#include <catch2/catch.hpp>
#include <string>

#include "pipeline/transform/splitter.h"
#include "test_data.h"

using namespace tandem::transform;

namespace {

struct Passed {
  std::string bytes;
  std::uint64_t records = 0;
  std::uint64_t first_offset = 0;
  bool operator==(const Passed&) const = default;
};

// Feeds `object` in chunks of `chunk_size` bytes (0: one chunk), then finishes.
Passed pass(SplitType type, std::string_view object, std::size_t chunk_size = 0) {
  PassThroughSplitter splitter(type);
  Passed out;
  const std::size_t step = chunk_size == 0 ? std::max<std::size_t>(object.size(), 1) : chunk_size;
  for (std::size_t at = 0; at < object.size(); at += step) {
    splitter.feed(object.substr(at, step), out.bytes);
  }
  splitter.finish(out.bytes);
  out.records = splitter.records();
  out.first_offset = splitter.first_offset();
  return out;
}

// What LineSplitter or WholeObjectSplitter finds: the request a MultiRecord stream carries.
Passed split_whole(SplitType type, std::string_view object) {
  const auto outcome = testing::split(type, object);
  REQUIRE(outcome.error.empty());
  Passed out;
  for (const Record& record : outcome.records) out.bytes += record.framed;
  out.records = outcome.records.size();
  if (!outcome.records.empty()) out.first_offset = outcome.records.front().offset;
  return out;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<Passed> {
  static std::string convert(const Passed& p) {
    return "{" + StringMaker<std::string>::convert(p.bytes) + ", " + std::to_string(p.records) +
           ", " + std::to_string(p.first_offset) + "}";
  }
};
}  // namespace Catch

TEST_CASE("Pass-through agrees with the Line and None splitters, whatever the chunks",
          "[splitter][pass-through]") {
  const std::vector<std::string> objects = {
      "",        "a,1\nb,2\r\nc,3", "\n\nx\n\n\r\ny\n\n", "\r",       "\r\n",    "\r\r\n",
      "\rx\n\r", "only\n",          "\n\r\n\r\n\n",       "a\r\nb\r", "\r\n\rz", "x\ny\r\n\r\n"};
  for (const SplitType type : {SplitType::line, SplitType::none}) {
    for (const auto& object : objects) {
      const Passed expected = split_whole(type, object);
      for (std::size_t chunk : {0, 1, 2, 3, 7}) {
        INFO("object " << Catch::StringMaker<std::string>::convert(object) << ", chunk " << chunk
                       << ", " << (type == SplitType::line ? "Line" : "None"));
        CHECK(pass(type, object, chunk) == expected);
      }
    }
  }
}

TEST_CASE("Pass-through holds no record: a line's bytes are passed on as they come",
          "[splitter][pass-through]") {
  PassThroughSplitter splitter(SplitType::line);
  std::string out;
  const std::string piece(64 * 1024, 'x');
  for (int i = 0; i < 64; ++i) {
    splitter.feed(piece, out);
    // Everything fed so far is out, though the line has not ended.
    REQUIRE(out.size() == piece.size());
    out.clear();
  }
  splitter.feed("\n\n\nnext", out);
  CHECK(out == "\nnext");
  CHECK(splitter.records() == 2);
  CHECK(splitter.first_offset() == 0);
}

TEST_CASE("Pass-through: only a line-starting \"\\r\" waits for the next byte",
          "[splitter][pass-through]") {
  PassThroughSplitter splitter(SplitType::line);
  std::string out;
  splitter.feed("\n\r", out);
  CHECK(out.empty());
  CHECK(splitter.records() == 0);
  splitter.feed("a", out);
  CHECK(out == "\ra");
  CHECK(splitter.records() == 1);
  CHECK(splitter.first_offset() == 1);
  splitter.feed("\r", out);  // inside a line: passed on at once
  CHECK(out == "\ra\r");
}

TEST_CASE("Pass-through of a None object: one record from the first byte",
          "[splitter][pass-through]") {
  PassThroughSplitter splitter(SplitType::none);
  std::string out;
  splitter.feed("", out);
  CHECK(splitter.records() == 0);
  splitter.feed("\n{", out);
  splitter.feed("}", out);
  splitter.finish(out);
  CHECK(out == "\n{}");
  CHECK(splitter.records() == 1);
  CHECK(PassThroughSplitter::supports(SplitType::none));
  CHECK(PassThroughSplitter::supports(SplitType::line));
  CHECK_FALSE(PassThroughSplitter::supports(SplitType::recordio));
  CHECK_FALSE(PassThroughSplitter::supports(SplitType::tfrecord));
}
