#include <catch2/catch.hpp>

#include "pipeline/transform/splitter.h"
#include "test_data.h"

using namespace tandem::transform;
using testing::le32;
using testing::recordio_part;
using testing::Seen;
using testing::seen;
using testing::split_every_way;
using testing::tfrecord;

namespace {
const std::string kMagic("\x0A\x23\xD7\xCE", 4);
}

TEST_CASE("RecordIO: whole records, padding kept in framed and dropped from content",
          "[splitter][recordio]") {
  const std::string first = recordio_part("abcde");  // 8 + 5 + 3 padding
  const std::string second = recordio_part("wxyz");  // 8 + 4
  const std::string empty = recordio_part("");
  const auto outcome = split_every_way(SplitType::recordio, first + second + empty);
  CHECK(outcome.error.empty());
  CHECK(seen(outcome.records) ==
        std::vector<Seen>{{0, 0, first, "abcde"}, {1, 16, second, "wxyz"}, {2, 28, empty, ""}});
  CHECK(first.size() == 16);
  CHECK(outcome.records[0].bytes_to_send(BatchStrategy::single_record) == "abcde");
  CHECK(outcome.records[0].bytes_to_send(BatchStrategy::multi_record) == first);
}

TEST_CASE("RecordIO: a multi-part record is one record with the split magic numbers put back",
          "[splitter][recordio]") {
  // What dmlc's writer makes of "head" + magic + "mid!" + magic + "tail!": the magic numbers
  // are cut out and the parts flagged start (1), middle (2), end (3).
  const std::string parts =
      recordio_part("head", 1) + recordio_part("mid!", 2) + recordio_part("tail!", 3);
  const std::string after = recordio_part("next");
  const auto outcome = split_every_way(SplitType::recordio, parts + after);
  CHECK(outcome.error.empty());
  CHECK(seen(outcome.records) ==
        std::vector<Seen>{{0, 0, parts, "head" + kMagic + "mid!" + kMagic + "tail!"},
                          {1, parts.size(), after, "next"}});
  CHECK(outcome.records[0].bytes_to_send(BatchStrategy::multi_record) == parts);
}

TEST_CASE("RecordIO: a record starting with the magic has an empty start part",
          "[splitter][recordio]") {
  const std::string parts = recordio_part("", 1) + recordio_part("rest", 3);
  const auto outcome = split_every_way(SplitType::recordio, parts);
  REQUIRE(outcome.records.size() == 1);
  CHECK(outcome.records[0].content() == kMagic + "rest");
}

TEST_CASE("RecordIO: format errors name the record and offsets", "[splitter][recordio]") {
  const std::string good = recordio_part("abcd");
  CHECK(split_every_way(SplitType::recordio, good + le32(0x12345678) + le32(4) + "abcd").error ==
        "record 1 (byte offset 12): bad RecordIO magic 0x12345678 at byte offset 12, expected "
        "0xced7230a");
  CHECK(split_every_way(SplitType::recordio, recordio_part("ab", 2)).error ==
        "record 0 (byte offset 0): RecordIO middle part (flag 2) at byte offset 0 without a "
        "start part");
  CHECK(split_every_way(SplitType::recordio, recordio_part("ab", 3)).error ==
        "record 0 (byte offset 0): RecordIO end part (flag 3) at byte offset 0 without a start "
        "part");
  CHECK(
      split_every_way(SplitType::recordio, recordio_part("ab", 1) + recordio_part("cd", 0)).error ==
      "record 0 (byte offset 0): multi-part RecordIO record without its end part: a whole "
      "record (flag 0) at byte offset 12 follows its start");
  CHECK(split_every_way(SplitType::recordio, recordio_part("ab", 5)).error ==
        "record 0 (byte offset 0): invalid RecordIO continuation flag 5 at byte offset 0");
}

TEST_CASE("RecordIO: truncated objects", "[splitter][recordio]") {
  const std::string good = recordio_part("abcde");
  CHECK(split_every_way(SplitType::recordio, good + good.substr(0, 5)).error ==
        "record 1 (byte offset 16): truncated: the object ends inside a RecordIO header at byte "
        "offset 21 (5 of 8 bytes)");
  CHECK(split_every_way(SplitType::recordio, good + good.substr(0, 14)).error ==
        "record 1 (byte offset 16): truncated: the object ends inside RecordIO data at byte "
        "offset 30 (6 of 8 bytes with padding)");
  CHECK(split_every_way(SplitType::recordio, recordio_part("ab", 1)).error ==
        "record 0 (byte offset 0): truncated: the object ends at byte offset 12 before the end "
        "part of a multi-part RecordIO record");
}

TEST_CASE("RecordIO: the limit applies to the content, checked from the headers",
          "[splitter][recordio]") {
  CHECK(split_every_way(SplitType::recordio, recordio_part("12345678"), 8).error.empty());
  CHECK(testing::split(SplitType::recordio, recordio_part("123456789").substr(0, 8), 0, 8).error ==
        "record 0 (byte offset 0): 9 bytes, larger than the limit of 8 bytes");
  const std::string parts = recordio_part("1234", 1) + recordio_part("56", 3);
  CHECK(split_every_way(SplitType::recordio, parts, 9).error ==
        "record 0 (byte offset 0): 10 bytes, larger than the limit of 9 bytes");
}

TEST_CASE("TFRecord: records with both CRCs checked", "[splitter][tfrecord]") {
  const std::string first = tfrecord("123456789");
  const std::string second = tfrecord("");
  const auto outcome = split_every_way(SplitType::tfrecord, first + second);
  CHECK(outcome.error.empty());
  CHECK(seen(outcome.records) ==
        std::vector<Seen>{{0, 0, first, "123456789"}, {1, first.size(), second, ""}});
  // The data CRC of "123456789" is the masked check value.
  CHECK(first.substr(first.size() - 4) == le32(0xC78AB0E5U));
  CHECK(outcome.records[0].bytes_to_send(BatchStrategy::single_record) == "123456789");
  CHECK(outcome.records[0].bytes_to_send(BatchStrategy::multi_record) == first);
}

TEST_CASE("TFRecord: CRC mismatches and truncation name the record", "[splitter][tfrecord]") {
  const std::string good = tfrecord("abc");
  std::string bad_length = good;
  bad_length[0] = '\x04';
  std::string bad_data = good;
  bad_data[12] = 'x';
  // Expected values computed independently (a bitwise CRC-32C in Python).
  CHECK(split_every_way(SplitType::tfrecord, good + bad_length).error ==
        "record 1 (byte offset 19): TFRecord length CRC mismatch (stored 0x0e4999b0, computed "
        "0x04524542)");
  CHECK(split_every_way(SplitType::tfrecord, bad_data).error ==
        "record 0 (byte offset 0): TFRecord data CRC mismatch (stored 0x21f1576e, computed "
        "0x7f90a2cb)");
  CHECK(split_every_way(SplitType::tfrecord, good.substr(0, 11)).error ==
        "record 0 (byte offset 0): truncated: the object ends inside a TFRecord header at byte "
        "offset 11 (11 of 12 bytes)");
  CHECK(split_every_way(SplitType::tfrecord, good + good.substr(0, 17)).error ==
        "record 1 (byte offset 19): truncated: the object ends inside a TFRecord at byte offset "
        "36 (17 of 19 bytes)");
}

TEST_CASE("TFRecord: an oversized length is refused before any data is buffered",
          "[splitter][tfrecord]") {
  const std::string header = tfrecord(std::string(100, 'x')).substr(0, 12);
  CHECK(testing::split(SplitType::tfrecord, header, 0, 64).error ==
        "record 0 (byte offset 0): 100 bytes, larger than the limit of 64 bytes");
}

TEST_CASE("TFRecord: a frame written out by hand with its known CRCs", "[splitter][tfrecord]") {
  // CRC-32C("123456789") = 0xE3069283, masked 0xC78AB0E5; the length CRC computed in Python.
  const std::string frame = testing::le64(9) + le32(0x3971F937U) + "123456789" + le32(0xC78AB0E5U);
  const auto outcome = split_every_way(SplitType::tfrecord, frame);
  CHECK(outcome.error.empty());
  CHECK(seen(outcome.records) == std::vector<Seen>{{0, 0, frame, "123456789"}});
}

TEST_CASE("TFRecord: a length no buffer could hold is an error even without a limit",
          "[splitter][tfrecord]") {
  const std::string length = testing::le64(~0ULL);
  const std::string header = length + le32(mask_crc32c(crc32c(length)));
  CHECK(testing::split(SplitType::tfrecord, header + "abc").error ==
        "record 0 (byte offset 0): TFRecord length 18446744073709551615 is too large");
}
