// Builders for the transform tests: RecordIO and TFRecord frames, gzip members, and feeding a
// splitter in chunks of a given size.
#pragma once

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/crc32c.h"
#include "pipeline/transform/splitter.h"

namespace tandem::transform::testing {

inline std::string le32(std::uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return bytes;
}

inline std::string le64(std::uint64_t value) {
  return le32(static_cast<std::uint32_t>(value)) + le32(static_cast<std::uint32_t>(value >> 32));
}

// One RecordIO part: magic, lrecord (flag << 29 | length), data, zero padding to 4 bytes.
inline std::string recordio_part(std::string_view data, std::uint32_t flag = 0) {
  std::string frame =
      le32(0xCED7230A) + le32((flag << 29) | static_cast<std::uint32_t>(data.size()));
  frame += data;
  frame.append((4 - data.size() % 4) % 4, '\0');
  return frame;
}

inline std::string tfrecord(std::string_view data) {
  const std::string length = le64(data.size());
  return length + le32(mask_crc32c(crc32c(length))) + std::string(data) +
         le32(mask_crc32c(crc32c(data)));
}

inline std::string gzip_member(std::string_view data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct SplitOutcome {
  std::vector<Record> records;
  std::string error;  // empty when the object split cleanly
};

// Feeds `object` in chunks of `chunk_size` bytes (0: one chunk), then finishes.
inline SplitOutcome split(SplitType type, std::string_view object, std::size_t chunk_size = 0,
                          std::uint64_t max_record_bytes = 0) {
  auto splitter = make_splitter(type, max_record_bytes);
  SplitOutcome outcome;
  auto take = [&outcome](Result<std::vector<Record>> result) {
    if (!result) {
      outcome.error = result.error().message;
      return false;
    }
    for (Record& record : *result) outcome.records.push_back(std::move(record));
    return true;
  };
  const std::size_t step = chunk_size == 0 ? std::max<std::size_t>(object.size(), 1) : chunk_size;
  for (std::size_t at = 0; at < object.size(); at += step) {
    if (!take(splitter->feed(object.substr(at, step)))) return outcome;
  }
  take(splitter->finish());
  return outcome;
}

// What a test compares: index, offset, framed bytes and content of each record.
struct Seen {
  std::uint64_t index;
  std::uint64_t offset;
  std::string framed;
  std::string content;
  bool operator==(const Seen&) const = default;
};

inline std::vector<Seen> seen(const std::vector<Record>& records) {
  std::vector<Seen> out;
  for (const Record& r : records) {
    out.push_back({r.index, r.offset, r.framed, std::string(r.content())});
  }
  return out;
}

// Splits whole, in 1-, 2-, 3- and 7-byte chunks; all must agree: the same records, or the same
// error (an error discards the records completed in the same chunk: the object has failed).
// Returns the whole-chunk outcome.
inline SplitOutcome split_every_way(SplitType type, std::string_view object,
                                    std::uint64_t max_record_bytes = 0) {
  const SplitOutcome whole = split(type, object, 0, max_record_bytes);
  for (std::size_t chunk : {1, 2, 3, 7}) {
    const SplitOutcome pieces = split(type, object, chunk, max_record_bytes);
    INFO("chunk size " << chunk);
    CHECK(pieces.error == whole.error);
    if (whole.error.empty()) CHECK(seen(pieces.records) == seen(whole.records));
  }
  return whole;
}

}  // namespace tandem::transform::testing

namespace Catch {
template <>
struct StringMaker<tandem::transform::testing::Seen> {
  static std::string convert(const tandem::transform::testing::Seen& s) {
    return "{" + std::to_string(s.index) + ", " + std::to_string(s.offset) + ", " +
           StringMaker<std::string>::convert(s.framed) + ", " +
           StringMaker<std::string>::convert(s.content) + "}";
  }
};
}  // namespace Catch
