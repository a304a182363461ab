#include "pipeline/batch/report.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace tandem::batch;

namespace {

ObjectFailure stage_failure() {
  ObjectFailure f;
  f.first_record = 10;
  f.record_count = 5;
  f.byte_offset = 1234;
  f.stage = "model";
  f.container = "container-2";
  f.status = 500;
  f.kind = FailureKind::model;
  f.message = "boom";
  f.attempts = 4;
  return f;
}

}  // namespace

TEST_CASE("describe names the records, the stage, its status and the attempts") {
  CHECK(describe(stage_failure()) ==
        "records 10-14 (byte offset 1234): stage 'model' (container-2) answered 500 after 4 "
        "attempts: boom");
  ObjectFailure no_answer = stage_failure();
  no_answer.record_count = 1;
  no_answer.status = 0;
  no_answer.attempts = 1;
  CHECK(describe(no_answer) ==
        "record 10 (byte offset 1234): stage 'model' (container-2) gave no answer: boom");
  const auto input = ObjectFailure::input("record 3 (byte offset 9): bad magic");
  CHECK(describe(input) == "InputError: record 3 (byte offset 9): bad magic");
}

TEST_CASE("an error line is one JSON object with the failed request's data") {
  const std::string line = error_line("s3://b/in/a.csv", stage_failure(), "1,2\n3,4\n");
  REQUIRE(line.back() == '\n');
  REQUIRE(line.find('\n') == line.size() - 1);
  const auto j = nlohmann::json::parse(line);
  CHECK(j["input"] == "s3://b/in/a.csv");
  CHECK(j["first_record"] == 10);
  CHECK(j["record_count"] == 5);
  CHECK(j["byte_offset"] == 1234);
  CHECK(j["stage"] == "model");
  CHECK(j["container"] == "container-2");
  CHECK(j["status"] == 500);
  CHECK(j["error"] == "ModelError");
  CHECK(j["attempts"] == 4);
  CHECK(j["data"] == "1,2\n3,4\n");
  CHECK_FALSE(j.contains("data_base64"));
}

TEST_CASE("binary data in an error line is base64") {
  const std::string binary("\xff\x00\x01\x80", 4);
  const auto j = nlohmann::json::parse(error_line("in", stage_failure(), binary));
  CHECK(j["data_base64"] == "/wABgA==");
  CHECK_FALSE(j.contains("data"));
  CHECK(nlohmann::json::parse(error_line("in", stage_failure(), "ab"))["data"] == "ab");
  CHECK(nlohmann::json::parse(
            error_line("in", stage_failure(), std::string("\xc3\xa9", 2)))["data"] == "\xc3\xa9");
  CHECK(nlohmann::json::parse(
            error_line("in", stage_failure(), std::string("\xc3", 1)))["data_base64"] == "ww==");
  CHECK_FALSE(
      nlohmann::json::parse(error_line("in", stage_failure(), std::nullopt)).contains("data"));
}

TEST_CASE("the summary counts objects and names each failed one") {
  JobReport r;
  r.name = "nightly";
  r.status = JobStatus::failed;
  r.failure_reason = "1 of 2 object(s) failed";
  r.started = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  r.ended = r.started + std::chrono::seconds(2);
  ObjectReport ok;
  ok.input = "in/a.csv";
  ok.status = ObjectStatus::completed;
  ok.records = 100;
  ok.bytes_read = 2048;
  ObjectReport bad;
  bad.input = "in/b.csv";
  bad.status = ObjectStatus::failed;
  bad.records = 7;
  bad.failure = stage_failure();
  r.objects = {ok, bad};
  const std::string s = summary(r);
  CHECK(s.find("transform job 'nightly': Failed: 1 of 2 object(s) failed") == 0);
  CHECK(s.find("1 of 2 object(s) completed, 1 failed, 0 not processed; 107 records") !=
        std::string::npos);
  CHECK(s.find("FAILED in/b.csv: records 10-14 (byte offset 1234): stage 'model'") !=
        std::string::npos);
  CHECK(s.find("in/a.csv") == std::string::npos);

  const auto j = to_json(r);
  CHECK(j["TransformJobStatus"] == "Failed");
  CHECK(j["FailureReason"] == "1 of 2 object(s) failed");
  CHECK(j["TransformStartTime"] == "1970-01-01T00:16:40.000Z");
  CHECK(j["TransformEndTime"] == "1970-01-01T00:16:42.000Z");
  CHECK(j["Totals"]["Records"] == 107);
  CHECK(j["Totals"]["Failed"] == 1);
  CHECK(j["Objects"][1]["Failure"]["Stage"] == "model");
  CHECK(j["Objects"][1]["Failure"]["Attempts"] == 4);
  CHECK(j["Objects"][0]["Status"] == "Completed");
}

TEST_CASE("the summary and the report name what the listing left out") {
  JobReport r;
  r.name = "nightly";
  CHECK(summary(r).find("skipped") == std::string::npos);
  CHECK(to_json(r)["Skipped"] == nlohmann::json::array());
  CHECK(to_json(r)["OutputFolderObjectsNotRead"] == 0);

  r.left_out.skipped = {{"/in/etclink", "a symbolic link (to /etc)"},
                        {"/in/fifo", "a FIFO, not a regular file"}};
  r.left_out.in_output_folder = 3;
  r.left_out.output_folder = "/in/out/";
  const std::string s = summary(r);
  CHECK(s.find("\n  skipped 2 input entries, not read:\n"
               "    /in/etclink: a symbolic link (to /etc)\n"
               "    /in/fifo: a FIFO, not a regular file\n"
               "  skipped 3 object(s) under the output folder /in/out/, which is never read as "
               "input") != std::string::npos);
  const auto j = to_json(r);
  CHECK(j["Skipped"] == nlohmann::json::parse(R"j([
    {"Input": "/in/etclink", "Reason": "a symbolic link (to /etc)"},
    {"Input": "/in/fifo", "Reason": "a FIFO, not a regular file"}])j"));
  CHECK(j["OutputFolderObjectsNotRead"] == 3);

  r.left_out = {};
  for (int i = 0; i < 25; ++i) r.left_out.skipped.push_back({"/in/l" + std::to_string(i), "x"});
  const std::string many = summary(r);
  CHECK(many.find("skipped 25 input entries, not read:") != std::string::npos);
  CHECK(many.find("/in/l19: x") != std::string::npos);
  CHECK(many.find("/in/l20: x") == std::string::npos);
  CHECK(many.find("    ... and 5 more (the report lists them all)") != std::string::npos);
  CHECK(to_json(r)["Skipped"].size() == 25);
  r.left_out.skipped.resize(1);
  CHECK(summary(r).find("skipped 1 input entry, not read:") != std::string::npos);
}

TEST_CASE("the report shows secret Environment values as <secret>") {
  JobReport r;
  r.job.environment = {{"API_KEY", "hunter2"}, {"MODE", "fast"}};
  r.secret_env = {"API_KEY"};
  const auto j = to_json(r);
  CHECK(j["Environment"] == nlohmann::json{{"API_KEY", "<secret>"}, {"MODE", "fast"}});
  CHECK(j.dump().find("hunter2") == std::string::npos);
}

TEST_CASE("progress shows objects, records, bytes, rate and an ETA") {
  Progress p;
  p.objects_done = 3;
  p.objects_total = 10;
  p.records = 1000;
  p.bytes_read = 512 * 1024 * 1024ull;
  p.bytes_total = 1024 * 1024 * 1024ull;
  p.seconds = 4;
  CHECK(progress_line(p) ==
        "progress: 3/10 objects, 0 failed, 1000 records, 512.0 MiB of 1.0 GiB read (50%), "
        "128.0 MiB/s, ETA 4s");
  const std::string bar = progress_bar(p, 120);
  CHECK(bar.find("3/10 objects") != std::string::npos);
  CHECK(bar.find("ETA 4s") != std::string::npos);
  CHECK(bar.front() == '[');
  CHECK(progress_bar(p, 40).size() <= 40);

  Progress unsized;  // a manifest's objects have no listed size: the ETA counts objects
  unsized.objects_done = 1;
  unsized.objects_total = 3;
  unsized.bytes_read = 10;
  unsized.seconds = 10;
  CHECK(progress_line(unsized) ==
        "progress: 1/3 objects, 0 failed, 0 records, 10 B read, 1 B/s, ETA 20s");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(1023) == "1023 B");
}

TEST_CASE("progress metrics are Prometheus text with the job as a label") {
  Progress p;
  p.objects_done = 2;
  p.objects_total = 5;
  p.objects_failed = 1;
  p.records = 1000;
  p.bytes_read = 4096;
  const std::string running = progress_metrics(p, "nightly \"v2\"", true, std::nullopt, 1.5);
  CHECK(running.find("# TYPE tandem_transform_objects gauge\n") != std::string::npos);
  CHECK(running.find("tandem_transform_objects{job=\"nightly \\\"v2\\\"\",state=\"done\"} 2\n") !=
        std::string::npos);
  CHECK(running.find("tandem_transform_objects{job=\"nightly \\\"v2\\\"\",state=\"failed\"} 1\n") !=
        std::string::npos);
  CHECK(running.find("tandem_transform_records_total{job=\"nightly \\\"v2\\\"\"} 1000\n") !=
        std::string::npos);
  CHECK(running.find("tandem_transform_read_bytes_total{job=\"nightly \\\"v2\\\"\"} 4096\n") !=
        std::string::npos);
  CHECK(running.find("tandem_transform_running{job=\"nightly \\\"v2\\\"\"} 1\n") !=
        std::string::npos);
  CHECK(running.find("tandem_transform_start_time_seconds{job=\"nightly \\\"v2\\\"\"} 1.500\n") !=
        std::string::npos);
  CHECK(running.find("tandem_transform_success") == std::string::npos);
  const std::string ended = progress_metrics(p, "j", false, false, 0);
  CHECK(ended.find("tandem_transform_running{job=\"j\"} 0\n") != std::string::npos);
  CHECK(ended.find("tandem_transform_success{job=\"j\"} 0\n") != std::string::npos);
}
