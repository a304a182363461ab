// Judging a replayed event: verdicts, the first differing stage, the summary and the report.
#include "pipeline/capture/replay_report.h"

#include <catch2/catch.hpp>

namespace tandem::capture {
namespace {

SourcedEvent captured(std::string output, std::vector<StageRecord> stages = {}) {
  SourcedEvent e;
  e.event.event_id = "ev-1";
  e.event.input = Payload{"text/csv", "1,2"};
  e.event.output = Payload{"text/csv", std::move(output)};
  e.event.stages = std::move(stages);
  e.source = {"capture.jsonl", 3};
  return e;
}

Reply reply(int status, std::string body, std::vector<StageRecord> stages = {}) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = status == 200 ? "text/csv" : "application/json";
  r.stages = std::move(stages);
  return r;
}

StageRecord stage(std::string name, std::string container, std::string output) {
  return {std::move(name),
          std::move(container),
          200,
          {},
          Payload{"text/csv", "x"},
          Payload{"text/csv", std::move(output)}};
}

TEST_CASE("verdicts") {
  CHECK(judge(captured("0.5"), reply(200, "0.5"), 1e-6).verdict == Verdict::matched);
  CHECK(judge(captured("0.5"), reply(200, "0.6"), 1e-6).verdict == Verdict::differed);
  auto failed = judge(captured("0.5"), reply(424, R"({"message":"boom"})"), 1e-6);
  CHECK(failed.verdict == Verdict::failed);
  CHECK(failed.message == R"(status 424 (captured 200): {"message":"boom"})");
  Reply none;
  none.failure = "cannot connect";
  CHECK(judge(captured("0.5"), none, 1e-6).message == "cannot connect");
  auto no_output = captured("");
  no_output.event.output.reset();
  CHECK(judge(no_output, reply(200, "1"), 1e-6).verdict == Verdict::replayed);
}

TEST_CASE("a captured error replayed as the same error matches, answered now differs") {
  auto error = captured(R"({"message":"x"})");
  error.event.status = 424;
  CHECK(judge(error, reply(424, R"({"message":"y"})"), 1e-6).verdict == Verdict::matched);
  const auto answered = judge(error, reply(200, "1"), 1e-6);
  CHECK(answered.verdict == Verdict::differed);
  CHECK(answered.difference->where == "status");
}

TEST_CASE("the first stage whose output differs is named") {
  auto event = captured(
      "benign", {stage("featurize", "container-1", "0.1,0.2"), stage("model", "container-2", "0.3"),
                 stage("post", "container-3", "benign")});
  const auto outcome = judge(
      event,
      reply(200, "malignant",
            {stage("featurize", "container-1", "0.1,0.2"), stage("model", "container-2", "0.9"),
             stage("post", "container-3", "malignant")}),
      1e-6);
  REQUIRE(outcome.first_stage);
  CHECK(outcome.first_stage->stage == "model");
  CHECK(outcome.first_stage->container == "container-2");
  CHECK(outcome.first_stage->difference.where == "row 1, field 1");
  const std::string text = describe({{1, 0, 1, 0, 0, 0, 0}, {outcome}, {}, {}});
  CHECK(text ==
        "DIFFERS  event ev-1 (capture.jsonl:3) at row 1, field 1; first stage whose output "
        "differs: 'model' (container-2) at row 1, field 1\n"
        "  captured: »benign«\n"
        "  replayed: »malignant«\n"
        "replay: 1 event(s): 0 matched, 1 differed, 0 failed\n");
}

TEST_CASE("the summary lists malformed lines and the totals, the report every outcome") {
  ReplaySummary summary;
  summary.outcomes.push_back(judge(captured("1"), reply(200, "1"), 0));
  summary.malformed.push_back(MalformedLine::at("capture.jsonl", 7, "not valid JSON"));
  summary.totals = {1, 1, 0, 0, 0, 1, 0};
  CHECK(describe(summary) ==
        "MALFORMED capture.jsonl:7: not valid JSON\n"
        "replay: 1 event(s): 1 matched, 0 differed, 0 failed; 1 malformed line(s) skipped\n");
  CHECK_FALSE(summary.totals.all_matched());
  const auto json = to_json(summary);
  CHECK(json["matched"] == 1);
  CHECK(json["allMatched"] == false);
  CHECK(json["malformedLines"][0]["line"] == 7);
  CHECK(json["results"][0]["outcome"] == "matched");
  CHECK(json["results"][0]["source"] == "capture.jsonl:3");
}

TEST_CASE("a warning is listed with its event and counted, and does not fail the run") {
  auto event = captured("1");
  event.warnings = {"eventMetadata.inferenceTime: cannot read \"yesterday\" as a time"};
  ReplaySummary summary;
  summary.outcomes.push_back(judge(event, reply(200, "1"), 0));
  REQUIRE(summary.outcomes[0].warnings == event.warnings);
  summary.totals = {1, 1, 0, 0, 0, 0, 0, 1};
  CHECK(summary.totals.all_matched());
  CHECK(describe(summary) ==
        "WARNING  event ev-1 (capture.jsonl:3): eventMetadata.inferenceTime: cannot read "
        "\"yesterday\" as a time\n"
        "replay: 1 event(s): 1 matched, 0 differed, 0 failed; 1 warning(s)\n");
  const auto json = to_json(summary);
  CHECK(json["warnings"] == 1);
  CHECK(json["allMatched"] == true);
  CHECK(json["results"][0]["warnings"][0] ==
        "eventMetadata.inferenceTime: cannot read \"yesterday\" as a time");
  // An event without warnings has no such key.
  summary.outcomes[0].warnings.clear();
  CHECK_FALSE(to_json(summary)["results"][0].contains("warnings"));
}

TEST_CASE("trace file names") {
  CHECK(trace_file_name("5d1c-4a3e") == "5d1c-4a3e.json");
  CHECK(trace_file_name("in/a.csv#3") == "in_a.csv_3.json");
  CHECK(trace_file_name("..") == "event-...json");
}

}  // namespace
}  // namespace tandem::capture
