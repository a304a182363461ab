// ObjectCommit over the local store with made-up chain results: what becomes the `.out`, the
// `.out.errors` and the object's report.
#include "pipeline/batch/commit.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/batch/batch_testing.h"

using namespace tandem;
using namespace tandem::batch;

namespace {

Request answered(std::uint64_t first, std::string sent, std::string answer,
                 std::string content_type = "text/csv") {
  Request request;
  request.batch.bytes = std::move(sent);
  request.batch.first_record_index = first;
  request.batch.record_count = 1;
  request.batch.first_offset = first * 2;
  request.result.body = std::move(answer);
  request.result.content_type = std::move(content_type);
  request.attempts = 1;
  return request;
}

Request failed(std::uint64_t first, std::string sent, int status) {
  auto request = answered(first, std::move(sent), "");
  request.result.error =
      proto::Error::stage_status({"model", "container-2", status, "bad row", "model.log"});
  request.attempts = 4;
  return request;
}

struct Committing {
  testing::Folder folder;
  transform::DataProcessor processor;
  CommitSettings settings;
  InputObject input;
  int failures_told = 0;
  ObjectCommit commit;

  explicit Committing(transform::DataProcessor p = testing::plain_processor())
      : processor(std::move(p)),
        settings{folder.out.get(), &processor, std::string("text/csv"),
                 transform::AssembleWith::none},
        input(folder.input("a.csv", "1\n2\n3\n")),
        commit(settings, input, [this] { ++failures_told; }) {}

  void finish(std::optional<ObjectFailure> read_failure = std::nullopt) {
    ReadTotals totals;
    totals.records = 3;
    totals.requests = 3;
    totals.bytes_read = 6;
    totals.started = std::chrono::steady_clock::now();
    commit.finish(read_failure, totals);
  }

  nlohmann::json error_line(std::size_t n) const {
    const std::string lines = folder.read("a.csv.out.errors");
    std::size_t at = 0;
    for (std::size_t i = 0; i < n; ++i) at = lines.find('\n', at) + 1;
    return nlohmann::json::parse(lines.substr(at, lines.find('\n', at) - at));
  }
};

}  // namespace

TEST_CASE("answers in order become the .out once the object ends") {
  Committing c;
  c.commit.consume(answered(0, "1\n", "0.1\n"));
  c.commit.consume(answered(1, "2\n", "0.2\n"));
  CHECK_FALSE(c.folder.exists("a.csv.out"));  // not before the end
  c.finish();
  CHECK(c.folder.read("a.csv.out") == "0.1\n0.2\n");
  CHECK_FALSE(c.folder.exists("a.csv.out.errors"));
  CHECK(c.commit.report().status == ObjectStatus::completed);
  CHECK(c.commit.report().bytes_written == 8);
  CHECK(c.commit.report().records == 3);
  CHECK(c.failures_told == 0);
}

TEST_CASE("a success removes the .out.errors an earlier run left") {
  Committing c;
  c.folder.out->create("a.csv.out.errors")->commit();
  c.commit.consume(answered(0, "1\n", "0.1\n"));
  c.finish();
  CHECK(c.folder.exists("a.csv.out"));
  CHECK_FALSE(c.folder.exists("a.csv.out.errors"));
}

TEST_CASE("a stage's error writes .out.errors with the request's data and no .out") {
  Committing c;
  c.commit.consume(failed(0, "1\n", 500));
  CHECK(c.failures_told == 1);
  c.commit.consume(answered(1, "2\n", "0.2\n"));  // in flight before the failure: moot
  c.finish();
  CHECK_FALSE(c.folder.exists("a.csv.out"));
  const auto line = c.error_line(0);
  CHECK(line["error"] == "ModelError");
  CHECK(line["stage"] == "model");
  CHECK(line["status"] == 500);
  CHECK(line["attempts"] == 4);
  CHECK(line["data"] == "1\n");
  const auto& report = c.commit.report();
  CHECK(report.status == ObjectStatus::failed);
  REQUIRE(report.failure);
  CHECK(report.failure->error() == "ModelError");
  CHECK(report.failure->first_record == 0u);
  CHECK(c.failures_told == 1);
}

TEST_CASE("an answer OutputFilter cannot take is a DataProcessingError") {
  Committing c(std::move(*transform::DataProcessor::create(
      {"$", "$.a", transform::JoinSource::none}, transform::DataFormat::json)));
  c.commit.consume(answered(0, "{}\n", "{\"b\":2}\n", "application/json"));
  c.finish();
  CHECK_FALSE(c.folder.exists("a.csv.out"));
  const auto line = c.error_line(0);
  CHECK(line["error"] == "DataProcessingError");
  CHECK(line["message"] == "record 0: OutputFilter \"$.a\": .a: no key \"a\"");
  CHECK(line["data"] == "{}\n");
}

TEST_CASE("a failure after output was written leaves no .out, nor any temporary file") {
  Committing c;
  c.commit.consume(answered(0, "1\n", "0.1\n"));
  c.commit.consume(answered(1, "2\n", "0.2\n"));
  c.commit.consume(failed(2, "3\n", 503));
  c.finish();
  CHECK(c.folder.outputs() == std::vector<std::string>{"a.csv.out.errors"});
  CHECK(c.commit.report().bytes_written == 8);
}

TEST_CASE("the reader's failure fails an object whose answers were all good") {
  Committing c;
  c.commit.consume(answered(0, "1\n", "0.1\n"));
  c.finish(ObjectFailure::input("record 1 (byte offset 2): bad"));
  CHECK(c.folder.outputs() == std::vector<std::string>{"a.csv.out.errors"});
  const auto line = c.error_line(0);
  CHECK(line["error"] == "InputError");
  CHECK_FALSE(line.contains("data"));
  CHECK(c.failures_told == 1);
}

TEST_CASE("abort discards what was written") {
  Committing c;
  c.commit.consume(answered(0, "1\n", "0.1\n"));
  c.commit.abort();
  CHECK(c.folder.outputs().empty());
  CHECK(c.commit.report().status == ObjectStatus::not_processed);
}
