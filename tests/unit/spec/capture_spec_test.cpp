// The `capture` section of a spec: defaults, every key, and its errors with their positions.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "pipeline/spec/spec.h"

namespace tandem::spec {
namespace {

std::optional<std::string> no_env(const std::string&) {
  return std::nullopt;
}

const std::string kBase = "name: churn\nstages:\n  - command: [a]\n";

PipelineSpec load(const std::string& capture) {
  return load_spec_text(kBase + capture, "pipeline.yaml", "/srv/app", no_env);
}

std::vector<std::string> errors_of(const std::string& capture) {
  try {
    load(capture);
  } catch (const SpecErrors& e) {
    std::vector<std::string> lines;
    for (const SpecError& error : e.errors()) lines.push_back(error.to_string());
    return lines;
  }
  FAIL("the spec loaded without errors");
  return {};
}

TEST_CASE("no capture section: nothing is captured") {
  CHECK_FALSE(load("").capture);
}

TEST_CASE("capture defaults") {
  const auto spec = load("capture:\n  destination: ./capture\n");
  REQUIRE(spec.capture);
  const auto& c = *spec.capture;
  CHECK(c.destination == "/srv/app/capture");
  CHECK(c.sampling_percentage == 100);
  CHECK(c.input);
  CHECK(c.output);
  CHECK(c.csv_content_types == std::vector<std::string>{"text/csv"});
  CHECK(c.json_content_types == std::vector<std::string>{"application/json"});
  CHECK_FALSE(c.stages);
  CHECK(c.max_file_bytes == 64ull * 1024 * 1024);
  CHECK(c.rotate_interval == std::chrono::seconds(60));
  CHECK(c.queue_records == 1024);
}

TEST_CASE("every capture key") {
  const auto spec = load(
      "capture:\n"
      "  destination: s3://bucket/prefix\n"
      "  sampling_percentage: 25\n"
      "  modes: [Output]\n"
      "  csv_content_types: [text/csv, text/plain]\n"
      "  json_content_types: []\n"
      "  stages: true\n"
      "  max_file_mb: 0.5\n"
      "  rotate_s: 5\n"
      "  queue_records: 10\n"
      "  queue_mb: 2\n");
  const auto& c = *spec.capture;
  CHECK(c.destination == "s3://bucket/prefix");
  CHECK(c.sampling_percentage == 25);
  CHECK_FALSE(c.input);
  CHECK(c.output);
  CHECK(c.csv_content_types == std::vector<std::string>{"text/csv", "text/plain"});
  CHECK(c.json_content_types.empty());
  CHECK(c.stages);
  CHECK(c.max_file_bytes == 512 * 1024);
  CHECK(c.rotate_interval == std::chrono::seconds(5));
  CHECK(c.queue_records == 10);
  CHECK(c.queue_bytes == 2 * 1024 * 1024);
}

TEST_CASE("enabled: false captures nothing") {
  CHECK(load("capture:\n  destination: x\n  enabled: false\n").capture->sampling_percentage == 0);
}

TEST_CASE("capture errors name the file, line, column and key, all at once") {
  CHECK(errors_of("capture:\n"
                  "  sampling_percentage: 120\n"
                  "  modes: [Input, Inptu, Input]\n"
                  "  csv_content_types: [csv]\n"
                  "  stages: yes\n"
                  "  rotate_s: 0\n"
                  "  queue_records: 0\n"
                  "  destinaton: x\n") ==
        std::vector<std::string>{
            "pipeline.yaml:5:3: capture.destination: required key is missing",
            "pipeline.yaml:5:24: capture.sampling_percentage: must be between 0 and 100, got 120",
            "pipeline.yaml:6:18: capture.modes[1]: expected one of Input, Output, got \"Inptu\"; "
            "did you mean \"Input\"?",
            "pipeline.yaml:6:25: capture.modes[2]: Input is listed twice",
            "pipeline.yaml:7:23: capture.csv_content_types[0]: expected a media type such as "
            "text/csv, got \"csv\"",
            "pipeline.yaml:8:11: capture.stages: expected one of false, true, got \"yes\"",
            "pipeline.yaml:9:13: capture.rotate_s: must be greater than 0 and at most 3600 "
            "seconds, got 0",
            "pipeline.yaml:10:18: capture.queue_records: must be between 1 and 1000000, got 0",
            "pipeline.yaml:11:3: capture.destinaton: unknown key; did you mean \"destination\"?",
        });
}

TEST_CASE("capture destinations") {
  CHECK(errors_of("capture:\n  destination: s3://\n") ==
        std::vector<std::string>{
            "pipeline.yaml:5:16: capture.destination: expected s3://bucket/prefix, got \"s3://\""});
  CHECK(errors_of("capture:\n  destination: gs://b/p\n") ==
        std::vector<std::string>{"pipeline.yaml:5:16: capture.destination: expected a local "
                                 "folder or s3://bucket/prefix, got \"gs://b/p\""});
  CHECK(errors_of("capture:\n  destination: x\n  modes: []\n") ==
        std::vector<std::string>{"pipeline.yaml:6:10: capture.modes: expected a non-empty list "
                                 "of Input and Output, got an empty list"});
}

}  // namespace
}  // namespace tandem::spec
