#include <catch2/catch.hpp>

#include "pipeline/transform/splitter.h"
#include "test_data.h"

using namespace tandem::transform;
using testing::Seen;
using testing::seen;
using testing::split_every_way;

TEST_CASE("Line: one record per line, the framed bytes keep the line break", "[splitter][line]") {
  const auto outcome = split_every_way(SplitType::line, "a,1\nb,2\r\nc,3");
  CHECK(outcome.error.empty());
  CHECK(seen(outcome.records) ==
        std::vector<Seen>{{0, 0, "a,1\n", "a,1"}, {1, 4, "b,2\r\n", "b,2"}, {2, 9, "c,3", "c,3"}});
  CHECK(outcome.records[1].line_break() == "\r\n");
  CHECK(outcome.records[2].line_break().empty());
}

TEST_CASE("Line: empty lines are skipped and get no index", "[splitter][line]") {
  const auto outcome = split_every_way(SplitType::line, "\nx\n\n\r\ny\n\n");
  CHECK(seen(outcome.records) == std::vector<Seen>{{0, 1, "x\n", "x"}, {1, 6, "y\n", "y"}});
}

TEST_CASE("Line: an empty object and a final line break give no extra record", "[splitter][line]") {
  CHECK(split_every_way(SplitType::line, "").records.empty());
  CHECK(split_every_way(SplitType::line, "only\n").records.size() == 1);
}

TEST_CASE("Line: SingleRecord and MultiRecord both send the line as it is", "[splitter][line]") {
  const auto outcome = split_every_way(SplitType::line, "x\r\n");
  REQUIRE(outcome.records.size() == 1);
  CHECK(outcome.records[0].bytes_to_send(BatchStrategy::single_record) == "x\r\n");
  CHECK(outcome.records[0].bytes_to_send(BatchStrategy::multi_record) == "x\r\n");
}

TEST_CASE("Line: a line over the limit is an error naming record, offset and limit",
          "[splitter][line]") {
  SECTION("a complete line: its size is known") {
    auto splitter = make_splitter(SplitType::line, 8);
    CHECK(seen(splitter->feed("ok\n").value()) == std::vector<Seen>{{0, 0, "ok\n", "ok"}});
    CHECK(splitter->feed("0123456789\n").error().message ==
          "record 1 (byte offset 3): 11 bytes, larger than the limit of 8 bytes");
  }
  SECTION("a line still growing: the splitter stops before buffering more") {
    const auto outcome = testing::split(SplitType::line, "ok\n0123456789", 0, 8);
    CHECK(outcome.error == "record 1 (byte offset 3): larger than the limit of 8 bytes");
  }
  SECTION("exactly at the limit is fine, line break included") {
    const auto outcome = split_every_way(SplitType::line, "1234567\n", 8);
    CHECK(outcome.error.empty());
    CHECK(outcome.records.size() == 1);
  }
  SECTION("the limit in MiB is shown as such") {
    const std::string line(kBytesPerMiB + 1, 'x');
    CHECK(testing::split(SplitType::line, line + "\n", 0, kBytesPerMiB).error ==
          "record 0 (byte offset 0): 1048578 bytes, larger than the limit of 1048576 bytes (1 "
          "MiB)");
  }
}

TEST_CASE("A record over the limit: the limit's reason follows the error", "[splitter]") {
  auto line = make_splitter(SplitType::line, 4, "why this limit");
  CHECK(line->feed("toolong").error().message ==
        "record 0 (byte offset 0): larger than the limit of 4 bytes; why this limit");
  auto none = make_splitter(SplitType::none, 4, "why this limit");
  CHECK(none->feed("toolong").error().message ==
        "the object (SplitType None: one record) is larger than the limit of 4 bytes; why this "
        "limit");
  auto tfrecord = make_splitter(SplitType::tfrecord, 4, "why this limit");
  CHECK(tfrecord->feed(testing::tfrecord("12345")).error().message ==
        "record 0 (byte offset 0): 5 bytes, larger than the limit of 4 bytes; why this limit");
}

TEST_CASE("Line: after an error every call returns it", "[splitter][line]") {
  auto splitter = make_splitter(SplitType::line, 4);
  CHECK_FALSE(splitter->feed("toolong").ok());
  const auto again = splitter->feed("a\n");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message == "record 0 (byte offset 0): larger than the limit of 4 bytes");
  CHECK(splitter->finish().error().message == again.error().message);
}

TEST_CASE("None: the whole object is one record, held until the end", "[splitter][none]") {
  auto splitter = make_splitter(SplitType::none, 0);
  CHECK(splitter->feed("{\"a\":").value().empty());
  CHECK(splitter->feed("1}\n").value().empty());
  const auto last = splitter->finish();
  REQUIRE(last.ok());
  CHECK(seen(*last) == std::vector<Seen>{{0, 0, "{\"a\":1}\n", "{\"a\":1}\n"}});
  CHECK(split_every_way(SplitType::none, "").records.empty());
}

TEST_CASE("None: an object over the limit is an error", "[splitter][none]") {
  CHECK(testing::split(SplitType::none, "0123456789", 3, 8).error ==
        "the object (SplitType None: one record) is larger than the limit of 8 bytes; split it "
        "(SplitType Line, RecordIO or TFRecord) or raise MaxPayloadInMB");
  CHECK(split_every_way(SplitType::none, "01234567", 8).records.size() == 1);
}
