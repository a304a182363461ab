// ObjectReader over the local store into a recording sink: what it hands on, and how it stops.
#include "pipeline/batch/object_reader.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "tests/unit/batch/batch_testing.h"
#include "tests/unit/transform/test_data.h"

using namespace tandem;
using namespace tandem::batch;
namespace asio = boost::asio;

namespace {

// Keeps everything the reader hands on. `abandon_after`: the object is abandoned once that
// many batches were submitted (as when the first request's answer failed the object).
class RecordingSink final : public ReadSink {
 public:
  explicit RecordingSink(asio::io_context& io) : io_(io) {}

  bool abandoned() const override { return abandon_after && batches.size() >= *abandon_after; }
  const std::atomic<bool>& stopping() const override { return stopping_; }
  void records_read(std::uint64_t count) override { records += count; }
  void bytes_read(std::uint64_t count) override { bytes += count; }
  bool submit(transform::Batch batch) override {
    batches.push_back(std::move(batch));
    return !abandoned();
  }
  std::shared_ptr<ChunkStream> start_stream(std::uint64_t first_record_index,
                                            std::uint64_t first_offset) override {
    stream_first = {first_record_index, first_offset};
    stream = std::make_shared<ChunkStream>(io_.get_executor());
    return stream;
  }
  void end_stream(transform::Batch counts, bool complete,
                  std::optional<std::string> failure) override {
    stream_counts = std::move(counts);
    stream_complete = complete;
    stream->close(std::move(failure));
  }

  // The streamed body, as the event loop would send it.
  std::string streamed_body() {
    std::string body;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          while (auto piece = co_await stream->next()) body += *piece;
        },
        asio::detached);
    io_.run();
    return body;
  }

  std::optional<std::size_t> abandon_after;
  std::vector<transform::Batch> batches;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::shared_ptr<ChunkStream> stream;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> stream_first;
  std::optional<transform::Batch> stream_counts;
  bool stream_complete = false;

 private:
  asio::io_context& io_;
  std::atomic<bool> stopping_{false};
};

struct Reading {
  transform::DataProcessor processor = testing::plain_processor();
  ReadSettings settings;

  Reading(transform::SplitType split, transform::BatchStrategy strategy,
          std::uint64_t payload_limit) {
    settings.split_type = split;
    settings.batch_strategy = strategy;
    settings.payload_limit = payload_limit;
    settings.reading = transform::plan_reading(payload_limit, strategy, split, false);
    settings.processor = &processor;
  }
};

constexpr std::uint64_t kMiB = 1024 * 1024;

}  // namespace

TEST_CASE("a gzip object is inflated, split into lines and sent one record a request") {
  testing::Folder folder;
  const std::string compressed = transform::testing::gzip_member("a,1\nb,2\nc,3\n");
  const auto input = folder.input("a.csv.gz", compressed);
  Reading reading(transform::SplitType::line, transform::BatchStrategy::single_record, kMiB);
  reading.settings.compression = transform::CompressionType::gzip;
  asio::io_context io;
  RecordingSink sink(io);
  ObjectReader reader(reading.settings, input, sink);
  REQUIRE(reader.read().ok());
  REQUIRE(sink.batches.size() == 3);
  CHECK(sink.batches[0].bytes == "a,1\n");
  CHECK(sink.batches[1].bytes == "b,2\n");
  CHECK(sink.batches[1].first_record_index == 1);
  CHECK(sink.batches[1].first_offset == 4);
  CHECK(sink.batches[2].bytes == "c,3\n");
  CHECK(sink.records == 3);
  CHECK(sink.bytes == compressed.size());  // as stored, not inflated
  CHECK_FALSE(sink.stream);
}

TEST_CASE("a split error is the object's InputError, naming the record") {
  using transform::testing::recordio_part;
  testing::Folder folder;
  const std::string good = recordio_part("one") + recordio_part("two");
  const auto input = folder.input("a.rec", good + "this is not a RecordIO part");
  Reading reading(transform::SplitType::recordio, transform::BatchStrategy::single_record, kMiB);
  asio::io_context io;
  RecordingSink sink(io);
  ObjectReader reader(reading.settings, input, sink);
  const auto read = reader.read();
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().error() == "InputError");
  CHECK_THAT(read.error().message,
             Catch::StartsWith("record 2 (byte offset " + std::to_string(good.size()) + "): "));
}

TEST_CASE("MaxPayloadInMB 0 streams the object as one request, in 1 MiB pieces") {
  testing::Folder folder;
  std::string data;
  for (int i = 0; data.size() < 2 * kMiB + 100; ++i) data += "row " + std::to_string(i) + "\n";
  const auto input = folder.input("big.csv", data);
  Reading reading(transform::SplitType::line, transform::BatchStrategy::multi_record, 0);
  REQUIRE(reading.settings.reading.pass_through);
  asio::io_context io;
  RecordingSink sink(io);
  ObjectReader reader(reading.settings, input, sink);
  REQUIRE(reader.read().ok());
  CHECK(sink.batches.empty());
  REQUIRE(sink.stream);
  CHECK(sink.stream_first == std::pair<std::uint64_t, std::uint64_t>{0, 0});
  REQUIRE(sink.stream_counts);
  CHECK(sink.stream_complete);
  CHECK(sink.stream_counts->record_count == sink.records);
  CHECK(sink.streamed_body() == data);
  CHECK_FALSE(sink.stream->failure());
}

TEST_CASE("a streamed object cut by an input error closes its stream with the reason") {
  testing::Folder folder;
  const std::string whole = transform::testing::gzip_member("a,1\nb,2\n");
  const auto input = folder.input("a.csv.gz", whole.substr(0, whole.size() - 8));  // no trailer
  Reading reading(transform::SplitType::line, transform::BatchStrategy::multi_record, 0);
  reading.settings.compression = transform::CompressionType::gzip;
  asio::io_context io;
  RecordingSink sink(io);
  ObjectReader reader(reading.settings, input, sink);
  const auto read = reader.read();
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().error() == "InputError");
  REQUIRE(sink.stream);
  CHECK_FALSE(sink.stream_complete);
  CHECK(sink.stream->failure() == read.error().message);
}

TEST_CASE("reading stops quietly once the object is abandoned") {
  testing::Folder folder;
  std::string data;
  for (int i = 0; i < 100; ++i) data += std::to_string(i) + "\n";
  const auto input = folder.input("a.csv", data);
  Reading reading(transform::SplitType::line, transform::BatchStrategy::single_record, kMiB);
  asio::io_context io;
  RecordingSink sink(io);
  sink.abandon_after = 2;
  ObjectReader reader(reading.settings, input, sink);
  CHECK(reader.read().ok());  // the failure is the one that abandoned it, not the reader's
  CHECK(sink.batches.size() == 2);
}

TEST_CASE("an object the store cannot open is a StorageError naming it") {
  testing::Folder folder;
  auto input = folder.input("a.csv", "1\n");
  input.key = "missing.csv";
  Reading reading(transform::SplitType::line, transform::BatchStrategy::single_record, kMiB);
  asio::io_context io;
  RecordingSink sink(io);
  ObjectReader reader(reading.settings, input, sink);
  const auto read = reader.read();
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().error() == "StorageError");
  CHECK_THAT(read.error().message, Catch::Contains("missing.csv"));
}
