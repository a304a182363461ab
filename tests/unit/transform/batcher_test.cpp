#include "pipeline/transform/batcher.h"

#include <catch2/catch.hpp>

#include "test_data.h"

using namespace tandem::transform;

namespace {

Record line_record(std::uint64_t index, std::uint64_t offset, std::string framed) {
  Record record;
  record.index = index;
  record.offset = offset;
  record.content_size = framed.size() - (framed.ends_with('\n') ? 1 : 0);
  record.framed = std::move(framed);
  return record;
}

struct Summary {
  std::string bytes;
  std::uint64_t first_index;
  std::uint64_t count;
  std::uint64_t first_offset;
  bool operator==(const Summary&) const = default;
};

std::vector<Summary> batch_all(Batcher& batcher, const std::vector<Record>& records,
                               std::string* error = nullptr) {
  std::vector<Summary> out;
  auto keep = [&out](const Batch& b) {
    out.push_back({b.bytes, b.first_record_index, b.record_count, b.first_offset});
  };
  for (const Record& record : records) {
    auto added = batcher.add(record);
    if (!added) {
      if (error != nullptr) *error = added.error().message;
      return out;
    }
    if (*added) keep(**added);
  }
  if (auto last = batcher.finish()) keep(*last);
  return out;
}

// Records of 4 bytes each ("r0\n\n" is not a line, so use "aaa\n" style).
std::vector<Record> four_byte_records(int n) {
  std::vector<Record> records;
  for (int i = 0; i < n; ++i) {
    records.push_back(line_record(i, 4 * i, std::string(3, static_cast<char>('a' + i)) + "\n"));
  }
  return records;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<Summary> {
  static std::string convert(const Summary& s) {
    return "{" + StringMaker<std::string>::convert(s.bytes) + ", " + std::to_string(s.first_index) +
           ", " + std::to_string(s.count) + ", " + std::to_string(s.first_offset) + "}";
  }
};
}  // namespace Catch

TEST_CASE("MultiRecord packs records while the body stays within the limit", "[batcher]") {
  SECTION("exactly at the limit: one batch") {
    Batcher batcher(BatchStrategy::multi_record, 12);
    CHECK(batch_all(batcher, four_byte_records(3)) ==
          std::vector<Summary>{{"aaa\nbbb\nccc\n", 0, 3, 0}});
  }
  SECTION("one byte over: the record starts the next batch") {
    Batcher batcher(BatchStrategy::multi_record, 11);
    CHECK(batch_all(batcher, four_byte_records(3)) ==
          std::vector<Summary>{{"aaa\nbbb\n", 0, 2, 0}, {"ccc\n", 2, 1, 8}});
  }
  SECTION("no limit: everything in one batch") {
    Batcher batcher(BatchStrategy::multi_record, 0);
    CHECK(batch_all(batcher, four_byte_records(5)).size() == 1);
  }
  SECTION("no records: no batch") {
    Batcher batcher(BatchStrategy::multi_record, 8);
    CHECK(batch_all(batcher, {}).empty());
  }
}

TEST_CASE("SingleRecord sends one record per batch", "[batcher]") {
  Batcher batcher(BatchStrategy::single_record, 4);
  CHECK(batch_all(batcher, four_byte_records(2)) ==
        std::vector<Summary>{{"aaa\n", 0, 1, 0}, {"bbb\n", 1, 1, 4}});
}

TEST_CASE("A record larger than the limit on its own is an error", "[batcher]") {
  std::vector<Record> records = four_byte_records(1);
  records.push_back(line_record(1, 4, std::string(6 * kBytesPerMiB, 'x') + "\n"));
  Batcher batcher(BatchStrategy::multi_record, payload_limit_bytes(6));
  std::string error;
  const auto batches = batch_all(batcher, records, &error);
  CHECK(batches.empty());
  CHECK(error ==
        "record 1 (byte offset 4): 6291457 bytes, larger than the limit of 6291456 "
        "bytes (6 MiB)");
}

TEST_CASE("SingleRecord sizes binary records without their framing", "[batcher]") {
  // A 16-byte RecordIO frame whose content is 5 bytes fits a 5-byte limit only unframed.
  const auto split = testing::split(SplitType::recordio, testing::recordio_part("abcde"));
  REQUIRE(split.records.size() == 1);
  Batcher single(BatchStrategy::single_record, 5);
  CHECK(batch_all(single, split.records) == std::vector<Summary>{{"abcde", 0, 1, 0}});
  Batcher multi(BatchStrategy::multi_record, 5);
  std::string error;
  batch_all(multi, split.records, &error);
  CHECK(error == "record 0 (byte offset 0): 16 bytes, larger than the limit of 5 bytes");
}

TEST_CASE("The batcher keeps the records' original content for a join", "[batcher]") {
  std::vector<Record> records = four_byte_records(2);
  records[1].unfiltered_content = "id,bbb";
  Batcher batcher(BatchStrategy::multi_record, 0, true);
  for (const Record& record : records) REQUIRE(batcher.add(record).ok());
  const auto batch = batcher.finish();
  REQUIRE(batch);
  CHECK(batch->join_inputs == std::vector<std::string>{"aaa", "id,bbb"});
}

TEST_CASE("Payload limits in MiB and when to stream the whole object", "[batcher]") {
  CHECK(payload_limit_bytes(6) == 6'291'456);
  CHECK(payload_limit_bytes(100) == 104'857'600);
  CHECK(payload_limit_bytes(0) == 0);
  CHECK(streams_whole_object(0, BatchStrategy::multi_record, SplitType::line));
  CHECK(streams_whole_object(0, BatchStrategy::single_record, SplitType::none));
  CHECK_FALSE(streams_whole_object(0, BatchStrategy::single_record, SplitType::line));
  CHECK_FALSE(streams_whole_object(6'291'456, BatchStrategy::multi_record, SplitType::line));
}

TEST_CASE("MaxPayloadInMB 0: what is streamed, what passes through, what is held and capped",
          "[batcher]") {
  constexpr auto multi = BatchStrategy::multi_record;
  constexpr auto single = BatchStrategy::single_record;
  SECTION("Line or None, MultiRecord, no record needed whole: streamed, nothing held") {
    for (const SplitType split : {SplitType::line, SplitType::none}) {
      const auto plan = plan_reading(0, multi, split, false);
      CHECK(plan.stream_object);
      CHECK(plan.pass_through);
    }
    CHECK(plan_reading(0, single, SplitType::none, false).pass_through);
  }
  SECTION("records needed whole, or framing to check: streamed, each record held and capped") {
    for (const auto& plan : {plan_reading(0, multi, SplitType::line, true),
                             plan_reading(0, multi, SplitType::none, true),
                             plan_reading(0, multi, SplitType::recordio, false),
                             plan_reading(0, multi, SplitType::tfrecord, false)}) {
      CHECK(plan.stream_object);
      CHECK_FALSE(plan.pass_through);
      CHECK(plan.record_limit == 104'857'600);
      CHECK_THAT(plan.limit_reason,
                 Catch::Contains("MaxPayloadInMB 0") && Catch::Contains("limited to 100 MiB"));
    }
  }
  SECTION("SingleRecord: one request per record, held and capped") {
    const auto plan = plan_reading(0, single, SplitType::line, false);
    CHECK_FALSE(plan.stream_object);
    CHECK_FALSE(plan.pass_through);
    CHECK(plan.record_limit == kHeldRecordLimitBytes);
  }
  SECTION("a payload limit: batches, records bounded by it, no reason added") {
    const auto plan = plan_reading(6'291'456, multi, SplitType::line, false);
    CHECK_FALSE(plan.stream_object);
    CHECK_FALSE(plan.pass_through);
    CHECK(plan.record_limit == 6'291'456);
    CHECK(plan.limit_reason.empty());
  }
}
