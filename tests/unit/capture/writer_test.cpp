// The capture writer: SageMaker's layout, whole records, rotation by size and by hour, a full
// queue dropping (and counting) instead of blocking, flushing on close.
#include "pipeline/capture/writer.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "pipeline/capture/endpoint_capture.h"
#include "pipeline/capture/layout.h"
#include "pipeline/capture/sampler.h"

namespace tandem::capture {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tandem-capture-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::chrono::system_clock::time_point at(const char* text) {
  return *parse_inference_time(text);
}

Event event_at(std::chrono::system_clock::time_point time, std::string body = "1,2,3") {
  Event event;
  event.inference_time = time;
  event.input = Payload{"text/csv", std::move(body)};
  event.output = Payload{"text/csv", "0.5"};
  return event;
}

// Every file under `root` (relative path -> lines).
std::map<std::string, std::vector<std::string>> files_under(const fs::path& root) {
  std::map<std::string, std::vector<std::string>> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    files[fs::relative(entry.path(), root).string()] = lines;
  }
  return files;
}

WriterOptions options() {
  WriterOptions o;
  o.endpoint = "churn";
  o.rotate_interval = std::chrono::hours(1);
  return o;
}

TEST_CASE("records land in <endpoint>/AllTraffic/yyyy/mm/dd/hh/<mm-ss-mmm-uuid>.jsonl") {
  TempDir dir;
  CaptureWriter writer(open_destination(dir.path().string()), options());
  REQUIRE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  REQUIRE(writer.submit(event_at(at("2024-03-05T07:59:59Z"))));
  writer.close();
  const auto files = files_under(dir.path());
  REQUIRE(files.size() == 1);
  const auto& [name, lines] = *files.begin();
  CHECK(std::regex_match(
      name,
      std::regex(
          R"(churn/AllTraffic/2024/03/05/07/08-09-000-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl)")));
  REQUIRE(lines.size() == 2);
  for (const auto& line : lines) CHECK(parse_json_line(line).event);
  CHECK(writer.counts().written == 2);
  CHECK(writer.counts().files == 1);
  CHECK(writer.counts().dropped == 0);
}

TEST_CASE("nothing is visible before a file is committed, everything after close") {
  TempDir dir;
  CaptureWriter writer(open_destination((dir.path() / "capture").string()), options());
  REQUIRE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  writer.close();
  CHECK(files_under(dir.path() / "capture").size() == 1);
  for (const auto& entry : fs::recursive_directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("a new hour starts a new file in that hour's folder") {
  TempDir dir;
  CaptureWriter writer(open_destination(dir.path().string()), options());
  REQUIRE(writer.submit(event_at(at("2024-03-05T07:59:59Z"))));
  REQUIRE(writer.submit(event_at(at("2024-03-05T08:00:00Z"))));
  writer.close();
  const auto files = files_under(dir.path());
  REQUIRE(files.size() == 2);
  CHECK(files.begin()->first.starts_with("churn/AllTraffic/2024/03/05/07/59-59-000-"));
  CHECK(std::next(files.begin())->first.starts_with("churn/AllTraffic/2024/03/05/08/00-00-000-"));
}

TEST_CASE("files rotate at max_file_bytes with whole records only") {
  TempDir dir;
  auto o = options();
  auto sample = event_at(at("2024-03-05T07:08:09Z"));
  sample.event_id = random_uuid();  // as the writer gives each event
  const std::size_t record = to_json_line(sample, o.rules).size() + 1;
  o.max_file_bytes = 2 * record + record / 2;  // room for two records per file
  CaptureWriter writer(open_destination(dir.path().string()), o);
  for (int i = 0; i < 5; ++i) REQUIRE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  writer.close();
  const auto files = files_under(dir.path());
  CHECK(files.size() == 3);
  std::size_t records = 0;
  for (const auto& [name, lines] : files) {
    CHECK(lines.size() <= 2);
    for (const auto& line : lines) CHECK(parse_json_line(line).event);
    records += lines.size();
  }
  CHECK(records == 5);
  CHECK(writer.counts().files == 3);
}

TEST_CASE("a record larger than max_file_bytes gets a file of its own") {
  TempDir dir;
  auto o = options();
  o.max_file_bytes = 100;
  CaptureWriter writer(open_destination(dir.path().string()), o);
  REQUIRE(writer.submit(event_at(at("2024-03-05T07:08:09Z"), std::string(500, 'x'))));
  writer.close();
  const auto files = files_under(dir.path());
  REQUIRE(files.size() == 1);
  CHECK(files.begin()->second.size() == 1);
}

// A store whose outputs block in write() until released: the writer thread stalls on storage
// while the request path keeps submitting.
class StalledStore final : public storage::ObjectStore {
 public:
  struct State {
    std::mutex mutex;
    std::condition_variable changed;
    bool released = false;
    bool writing = false;
    std::vector<std::string> committed;
  };

  explicit StalledStore(std::shared_ptr<State> state) : state_(std::move(state)) {}

  std::vector<storage::ObjectInfo> list(const std::string&) override { return {}; }
  std::unique_ptr<storage::InputStream> open(const std::string&) override { return nullptr; }
  bool exists(const std::string&) override { return false; }
  void remove(const std::string&) override {}
  std::unique_ptr<storage::OutputObject> create(const std::string&) override {
    return std::make_unique<Output>(state_);
  }

 private:
  class Output final : public storage::OutputObject {
   public:
    explicit Output(std::shared_ptr<State> state) : state_(std::move(state)) {}
    void write(std::string_view data) override {
      std::unique_lock lock(state_->mutex);
      state_->writing = true;
      state_->changed.notify_all();
      state_->changed.wait(lock, [&] { return state_->released; });
      text_ += data;
    }
    void commit() override {
      std::lock_guard lock(state_->mutex);
      state_->committed.push_back(text_);
    }
    void abort() noexcept override {}

   private:
    std::shared_ptr<State> state_;
    std::string text_;
  };

  std::shared_ptr<State> state_;
};

TEST_CASE("a full queue drops and counts records instead of blocking") {
  auto state = std::make_shared<StalledStore::State>();
  auto o = options();
  o.queue_records = 3;
  CaptureWriter writer(storage::Location{std::make_unique<StalledStore>(state), "", "stalled"}, o);
  REQUIRE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  {
    // The writer has taken the first record and is stuck writing it.
    std::unique_lock lock(state->mutex);
    state->changed.wait(lock, [&] { return state->writing; });
  }
  // The record being written still counts against the bound: two more fit.
  for (int i = 0; i < 2; ++i) CHECK(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  CHECK_FALSE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  CHECK_FALSE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  CHECK(writer.counts().dropped == 2);
  {
    std::lock_guard lock(state->mutex);
    state->released = true;
  }
  state->changed.notify_all();
  writer.close();
  CHECK(writer.counts().written == 3);
  CHECK(writer.counts().dropped == 2);
  REQUIRE(state->committed.size() == 1);
  std::istringstream committed(state->committed.front());
  std::size_t lines = 0;
  for (std::string line; std::getline(committed, line); ++lines) CHECK(parse_json_line(line).event);
  CHECK(lines == 3);
}

TEST_CASE("the queue is bounded in bytes too") {
  auto state = std::make_shared<StalledStore::State>();
  auto o = options();
  o.queue_bytes = 4096;
  CaptureWriter writer(storage::Location{std::make_unique<StalledStore>(state), "", "stalled"}, o);
  REQUIRE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  {
    std::unique_lock lock(state->mutex);
    state->changed.wait(lock, [&] { return state->writing; });
  }
  CHECK(writer.submit(event_at(at("2024-03-05T07:08:09Z"), std::string(3000, 'x'))));
  CHECK_FALSE(writer.submit(event_at(at("2024-03-05T07:08:09Z"), std::string(3000, 'x'))));
  {
    std::lock_guard lock(state->mutex);
    state->released = true;
  }
  state->changed.notify_all();
  writer.close();
  CHECK(writer.counts().written == 2);
  CHECK(writer.counts().dropped == 1);
}

// A store that refuses every write, as an unreachable S3 bucket does.
class BrokenStore final : public storage::ObjectStore {
 public:
  std::vector<storage::ObjectInfo> list(const std::string&) override { return {}; }
  std::unique_ptr<storage::InputStream> open(const std::string&) override { return nullptr; }
  bool exists(const std::string&) override { return false; }
  void remove(const std::string&) override {}
  std::unique_ptr<storage::OutputObject> create(const std::string& key) override {
    throw storage::StorageError("s3://bucket/" + key + ": PUT failed: 503 SlowDown");
  }
};

TEST_CASE("records the destination refuses are counted as lost, and the writer carries on") {
  CaptureWriter writer(storage::Location{std::make_unique<BrokenStore>(), "", "s3://bucket/"},
                       options());
  for (int i = 0; i < 3; ++i) REQUIRE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  writer.close();
  CHECK(writer.counts().failed == 3);
  CHECK(writer.counts().written == 0);
  CHECK(writer.counts().files == 0);
}

TEST_CASE("events submitted after close are dropped") {
  TempDir dir;
  CaptureWriter writer(open_destination(dir.path().string()), options());
  writer.close();
  CHECK_FALSE(writer.submit(event_at(at("2024-03-05T07:08:09Z"))));
  CHECK(writer.counts().dropped == 1);
}

TEST_CASE("sampling keeps exactly the configured share, spread evenly") {
  auto kept = [](std::uint32_t percentage, int invocations) {
    Sampler sampler(percentage);
    int count = 0;
    for (int i = 0; i < invocations; ++i) count += sampler.next() ? 1 : 0;
    return count;
  };
  CHECK(kept(100, 400) == 400);
  CHECK(kept(0, 400) == 0);
  CHECK(kept(50, 400) == 200);
  CHECK(kept(10, 400) == 40);
  CHECK(kept(1, 99) == 0);
  CHECK(kept(1, 100) == 1);
  Sampler half(50);
  CHECK_FALSE(half.next());
  CHECK(half.next());
  CHECK_FALSE(half.next());
  CHECK(half.next());
}

TEST_CASE("layout helpers") {
  CHECK(hour_folder(at("2024-12-31T23:59:59Z")) == "2024/12/31/23");
  CHECK(capture_file_key("cap/", "ep", at("2024-01-02T03:04:05Z") + 678ms, "u") ==
        "cap/ep/AllTraffic/2024/01/02/03/04-05-678-u.jsonl");
  CHECK(random_uuid() != random_uuid());
}

}  // namespace
}  // namespace tandem::capture
