#include "pipeline/transform/gzip.h"

#include <catch2/catch.hpp>
#include <string>

#include "test_data.h"

using namespace tandem::transform;
using testing::gzip_member;

namespace {

struct Inflated {
  std::string data;
  std::string error;
  std::size_t largest_piece = 0;
};

Inflated inflate_all(std::string_view compressed, std::size_t chunk_size = 0) {
  GzipInflater inflater;
  Inflated out;
  auto sink = [&out](std::string_view piece) {
    out.data.append(piece);
    out.largest_piece = std::max(out.largest_piece, piece.size());
    return Status::success();
  };
  const std::size_t step =
      chunk_size == 0 ? std::max<std::size_t>(compressed.size(), 1) : chunk_size;
  for (std::size_t at = 0; at < compressed.size(); at += step) {
    Status status = inflater.feed(compressed.substr(at, step), sink);
    if (!status) {
      out.error = status.error().message;
      return out;
    }
  }
  Status finished = inflater.finish();
  if (!finished) out.error = finished.error().message;
  return out;
}

}  // namespace

TEST_CASE("gzip inflates a member fed whole or byte by byte", "[gzip]") {
  const std::string text = "id,a,b\n1,2,3\n4,5,6\n";
  const std::string compressed = gzip_member(text);
  for (std::size_t chunk : {0, 1, 5}) {
    const Inflated inflated = inflate_all(compressed, chunk);
    INFO("chunk " << chunk);
    CHECK(inflated.error.empty());
    CHECK(inflated.data == text);
  }
}

TEST_CASE("gzip inflates concatenated members to the concatenation", "[gzip]") {
  const std::string compressed = gzip_member("first\n") + gzip_member("") + gzip_member("second\n");
  CHECK(inflate_all(compressed).data == "first\nsecond\n");
  const Inflated bytewise = inflate_all(compressed, 1);
  CHECK(bytewise.error.empty());
  CHECK(bytewise.data == "first\nsecond\n");
}

TEST_CASE("gzip hands out large outputs in bounded pieces", "[gzip]") {
  const std::string text(1'000'000, 'x');
  const Inflated inflated = inflate_all(gzip_member(text));
  CHECK(inflated.data == text);
  CHECK(inflated.largest_piece == GzipInflater::kOutputPieceBytes);
}

TEST_CASE("gzip names the compressed offset of corrupt data", "[gzip]") {
  std::string compressed = gzip_member("hello, hello, hello, world\n");
  SECTION("not gzip at all") {
    CHECK(inflate_all("plain,csv\n1,2\n").error ==
          "gzip: corrupt data at compressed byte offset 2: incorrect header check");
  }
  SECTION("a damaged deflate block") {
    compressed[10] = '\xFF';  // the first byte after the 10-byte header
    CHECK(inflate_all(compressed).error ==
          "gzip: corrupt data at compressed byte offset 11: invalid block type");
  }
  SECTION("a wrong CRC in the trailer") {
    compressed[compressed.size() - 8] ^= 0x01;
    CHECK(inflate_all(compressed).error == "gzip: corrupt data at compressed byte offset " +
                                               std::to_string(compressed.size() - 4) +
                                               ": incorrect data check");
  }
  SECTION("garbage after a member") {
    CHECK(inflate_all(compressed + "trailing").error ==
          "gzip: corrupt data at compressed byte offset " + std::to_string(compressed.size() + 2) +
              ": incorrect header check");
  }
}

TEST_CASE("gzip reports truncated and empty objects", "[gzip]") {
  const std::string compressed = gzip_member("some data that will be cut\n");
  CHECK(inflate_all(compressed.substr(0, 15)).error ==
        "gzip: truncated: the object ends inside a gzip member at compressed byte offset 15");
  CHECK(inflate_all(compressed + compressed.substr(0, 3)).error ==
        "gzip: truncated: the object ends inside a gzip member at compressed byte offset " +
            std::to_string(compressed.size() + 3));
  CHECK(inflate_all("").error == "gzip: the object is empty, not gzip data");
}

TEST_CASE("gzip stops at the sink's error and keeps returning it", "[gzip]") {
  GzipInflater inflater;
  auto refuse = [](std::string_view) { return Status(Error{"record 0 (byte offset 0): refused"}); };
  Status first = inflater.feed(gzip_member("abc"), refuse);
  REQUIRE_FALSE(first.ok());
  CHECK(first.error().message == "record 0 (byte offset 0): refused");
  Status again = inflater.feed("more", [](std::string_view) { return Status::success(); });
  CHECK(again.error().message == "record 0 (byte offset 0): refused");
  CHECK(inflater.finish().error().message == "record 0 (byte offset 0): refused");
}
