// The capture writer when storage fails part-way: a full disk (writes cut short, as write(2)
// does on ENOSPC), a write or a commit that fails once. What was written is committed whole,
// under the file's own key, and only the records that did not fit are counted as lost.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <sstream>

#include "pipeline/capture/layout.h"
#include "pipeline/capture/writer.h"

namespace tandem::capture {
namespace {

// A disk of `capacity` bytes behind the ObjectStore interface. A write takes what fits and
// then fails, leaving the bytes it took in the object; abort gives an object's bytes back; a
// committed object keeps them. `fail_writes` and `fail_commits` fail that many more calls
// whatever the space.
class SmallDisk final : public storage::ObjectStore {
 public:
  struct State {
    std::mutex mutex;
    std::size_t capacity = 0;
    std::size_t used = 0;
    int fail_writes = 0;
    int fail_commits = 0;
    std::map<std::string, std::string> committed;
  };

  explicit SmallDisk(std::shared_ptr<State> state) : state_(std::move(state)) {}

  std::vector<storage::ObjectInfo> list(const std::string&) override { return {}; }
  std::unique_ptr<storage::InputStream> open(const std::string&) override { return nullptr; }
  bool exists(const std::string&) override { return false; }
  void remove(const std::string&) override {}
  std::unique_ptr<storage::OutputObject> create(const std::string& key) override {
    return std::make_unique<Output>(state_, key);
  }

 private:
  class Output final : public storage::OutputObject {
   public:
    Output(std::shared_ptr<State> state, std::string key)
        : state_(std::move(state)), key_(std::move(key)) {}
    ~Output() override { abort(); }
    void write(std::string_view data) override {
      std::lock_guard lock(state_->mutex);
      if (state_->fail_writes > 0) {
        --state_->fail_writes;
        throw storage::StorageError(key_ + ": write failed: Input/output error");
      }
      const std::size_t fits = std::min(data.size(), state_->capacity - state_->used);
      text_.append(data.substr(0, fits));
      state_->used += fits;
      if (fits < data.size())
        throw storage::StorageError(key_ + ": write failed: No space left on device");
    }
    void commit() override {
      std::lock_guard lock(state_->mutex);
      if (state_->fail_commits > 0) {
        --state_->fail_commits;
        throw storage::StorageError(key_ + ": fsync failed: Input/output error");
      }
      state_->committed[key_] = std::move(text_);
      done_ = true;
    }
    void abort() noexcept override {
      if (done_) return;
      std::lock_guard lock(state_->mutex);
      state_->used -= text_.size();
      text_.clear();
      done_ = true;
    }

   private:
    std::shared_ptr<State> state_;
    std::string key_;
    std::string text_;
    bool done_ = false;
  };

  std::shared_ptr<State> state_;
};

Event event(std::size_t body_bytes = 900) {
  Event e;
  e.inference_time = *parse_inference_time("2024-03-05T07:08:09Z");
  e.input = Payload{"text/csv", std::string(body_bytes, '7')};
  e.output = Payload{"text/csv", "0.5"};
  return e;
}

WriterOptions options() {
  WriterOptions o;
  o.endpoint = "churn";
  o.rotate_interval = std::chrono::hours(1);
  o.queue_records = 1000;
  return o;
}

// Every committed line, each checked to be a whole capture record.
std::size_t committed_records(SmallDisk::State& state) {
  std::lock_guard lock(state.mutex);
  std::size_t records = 0;
  for (const auto& [key, text] : state.committed) {
    CHECK(key.ends_with(".jsonl"));
    CHECK((text.empty() || text.back() == '\n'));
    std::istringstream in(text);
    for (std::string line; std::getline(in, line); ++records) CHECK(parse_json_line(line).event);
  }
  return records;
}

std::size_t record_bytes() {
  Event e = event();
  e.event_id = random_uuid();
  return to_json_line(e, ContentTypeRules{}).size() + 1;
}

TEST_CASE("a full disk keeps the records already written, whole, and counts only the rest") {
  auto state = std::make_shared<SmallDisk::State>();
  state->capacity = 256 * 1024;
  CaptureWriter writer(storage::Location{std::make_unique<SmallDisk>(state), "", "small"},
                       options());
  for (int i = 0; i < 400; ++i) REQUIRE(writer.submit(event()));
  writer.close();
  const auto counts = writer.counts();
  const std::size_t fit = state->capacity / record_bytes();  // 261 records of 1003 bytes
  INFO("written " << counts.written << ", lost " << counts.failed << ", " << fit << " fit");
  CHECK(counts.written == committed_records(*state));
  CHECK(counts.written + counts.failed == 400);
  CHECK(counts.dropped == 0);
  // What the disk held is kept, within a seventh of a 64 KiB piece (66 records) per file.
  CHECK(counts.written + 10 >= fit);
  CHECK(counts.written <= fit);
  CHECK(counts.files == state->committed.size());
}

TEST_CASE("a write that fails once loses nothing: the file is written again and committed") {
  auto state = std::make_shared<SmallDisk::State>();
  state->capacity = 64 * 1024 * 1024;
  state->fail_writes = 1;
  CaptureWriter writer(storage::Location{std::make_unique<SmallDisk>(state), "", "flaky"},
                       options());
  for (int i = 0; i < 400; ++i) REQUIRE(writer.submit(event()));
  writer.close();
  CHECK(writer.counts().written == 400);
  CHECK(writer.counts().failed == 0);
  CHECK(committed_records(*state) == 400);
}

TEST_CASE("a commit that fails once loses nothing") {
  auto state = std::make_shared<SmallDisk::State>();
  state->capacity = 64 * 1024 * 1024;
  state->fail_commits = 1;
  CaptureWriter writer(storage::Location{std::make_unique<SmallDisk>(state), "", "flaky"},
                       options());
  for (int i = 0; i < 10; ++i) REQUIRE(writer.submit(event()));
  writer.close();
  CHECK(writer.counts().written == 10);
  CHECK(writer.counts().failed == 0);
  REQUIRE(state->committed.size() == 1);
  CHECK(committed_records(*state) == 10);
}

TEST_CASE("a store that keeps failing loses the file's records, counted, after a few tries") {
  auto state = std::make_shared<SmallDisk::State>();
  state->capacity = 64 * 1024 * 1024;
  state->fail_writes = 1000;
  CaptureWriter writer(storage::Location{std::make_unique<SmallDisk>(state), "", "broken"},
                       options());
  for (int i = 0; i < 400; ++i) REQUIRE(writer.submit(event()));
  writer.close();
  CHECK(writer.counts().written == 0);
  CHECK(writer.counts().failed == 400);
  CHECK(state->committed.empty());
  CHECK(state->used == 0);                    // every attempt was aborted
  CHECK(state->fail_writes >= 1000 - 9 * 5);  // a few attempts per file, not one per record
}

}  // namespace
}  // namespace tandem::capture
