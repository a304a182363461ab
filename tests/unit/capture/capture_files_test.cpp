// Reading capture files for replay: a line over the limit is reported where it is and the
// lines around it are still read, without holding more than the limit in memory.
#include "pipeline/capture/capture_files.h"

#include <catch2/catch.hpp>
#include <cstring>

namespace tandem::capture {
namespace {

constexpr std::string_view kRecord =
    R"({"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2","encoding":"CSV"}},)"
    R"("eventMetadata":{"eventId":"e","inferenceTime":"2024-02-14T17:25:49Z"},"eventVersion":"0"})";

// Produces `head`, then `filler` bytes of 'x', then `tail`, generated as it is read.
class GeneratedStream final : public storage::InputStream {
 public:
  GeneratedStream(std::string head, std::uint64_t filler, std::string tail)
      : head_(std::move(head)), filler_(filler), tail_(std::move(tail)) {}

  std::size_t read(char* out, std::size_t size) override {
    const std::uint64_t total = head_.size() + filler_ + tail_.size();
    std::size_t n = 0;
    for (; n < size && offset_ < total; ++n, ++offset_) {
      if (offset_ < head_.size()) {
        out[n] = head_[offset_];
      } else if (offset_ < head_.size() + filler_) {
        const std::uint64_t left = head_.size() + filler_ - offset_;
        const std::size_t run = static_cast<std::size_t>(std::min<std::uint64_t>(left, size - n));
        std::memset(out + n, 'x', run);
        n += run - 1;
        offset_ += run - 1;
      } else {
        out[n] = tail_[offset_ - head_.size() - filler_];
      }
    }
    return n;
  }

 private:
  std::string head_;
  std::uint64_t filler_;
  std::string tail_;
  std::uint64_t offset_ = 0;
};

class GeneratedStore final : public storage::ObjectStore {
 public:
  std::vector<storage::ObjectInfo> list(const std::string&) override { return {}; }
  std::unique_ptr<storage::InputStream> open(const std::string&) override {
    return std::make_unique<GeneratedStream>(std::string(kRecord) + "\n", kMaxCaptureLineBytes + 1,
                                             "\n" + std::string(kRecord) + "\n");
  }
  std::unique_ptr<storage::OutputObject> create(const std::string&) override { return nullptr; }
  bool exists(const std::string&) override { return true; }
  void remove(const std::string&) override {}
};

// One object of fixed text.
class TextStore final : public storage::ObjectStore {
 public:
  explicit TextStore(std::string text) : text_(std::move(text)) {}
  std::vector<storage::ObjectInfo> list(const std::string&) override { return {}; }
  std::unique_ptr<storage::InputStream> open(const std::string&) override {
    return std::make_unique<GeneratedStream>(text_, 0, "");
  }
  std::unique_ptr<storage::OutputObject> create(const std::string&) override { return nullptr; }
  bool exists(const std::string&) override { return true; }
  void remove(const std::string&) override {}

 private:
  std::string text_;
};

TEST_CASE("a record whose time cannot be read is an event with a warning, not a malformed line") {
  std::string unreadable(kRecord);
  unreadable.replace(unreadable.find("2024-02-14T17:25:49Z"), 20, "14/02/2024 17:25");
  std::string zoneless(kRecord);
  zoneless.replace(zoneless.find("2024-02-14T17:25:49Z"), 20, "2024-02-14T17:25:49.123456");
  TextStore store(std::string(kRecord) + "\n" + unreadable + "\n" + zoneless + "\n");
  const ObjectEvents read = read_capture_file(store, "k", "capture.jsonl");
  CHECK(read.malformed.empty());
  REQUIRE(read.events.size() == 3);
  CHECK(read.events[0].warnings.empty());
  REQUIRE(read.events[1].warnings.size() == 1);
  CHECK(read.events[1].warnings[0].starts_with(
      "eventMetadata.inferenceTime: cannot read \"14/02/2024 17:25\" as a time"));
  CHECK_FALSE(read.events[1].event.inference_time);
  CHECK(read.events[2].warnings.empty());
  CHECK(read.events[2].event.inference_time);
}

TEST_CASE("a capture line over 256 MiB is reported by file and line, the others read") {
  GeneratedStore store;
  const ObjectEvents read = read_capture_file(store, "k", "capture.jsonl");
  REQUIRE(read.events.size() == 2);
  CHECK(read.events[0].source.to_string() == "capture.jsonl:1");
  CHECK(read.events[1].source.to_string() == "capture.jsonl:3");
  REQUIRE(read.malformed.size() == 1);
  CHECK(read.malformed[0].source.to_string() == "capture.jsonl:2");
  CHECK(read.malformed[0].message == "line longer than 256 MiB");
}

}  // namespace
}  // namespace tandem::capture
