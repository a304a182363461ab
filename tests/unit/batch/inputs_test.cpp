#include "pipeline/batch/inputs.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

using namespace tandem;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("tandem-inputs-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& relative, const std::string& data) const {
    fs::create_directories((path / relative).parent_path());
    std::ofstream(path / relative, std::ios::binary) << data;
  }
};

transform::TransformJob job_for(const fs::path& input, const fs::path& output) {
  transform::TransformJob job;
  job.input.uri = input.string() + "/";
  job.output.path = output.string();
  return job;
}

std::vector<std::string> relatives(const batch::InputPlan& plan) {
  std::vector<std::string> out;
  for (const auto& o : plan.objects) out.push_back(o.relative);
  return out;
}

}  // namespace

TEST_CASE("a folder lists every object, subfolders kept in the output keys") {
  TempDir dir;
  dir.write("in/b.csv", "2");
  dir.write("in/a.csv", "1");
  dir.write("in/sub/c.csv", "33");
  const auto plan = batch::plan_inputs(job_for(dir.path / "in", dir.path / "out"), {}, false);
  REQUIRE(relatives(plan) == std::vector<std::string>{"a.csv", "b.csv", "sub/c.csv"});
  CHECK(plan.listed == 3);
  CHECK(plan.objects[2].size == 2);
  CHECK(plan.objects[2].output_key == "sub/c.csv.out");
  CHECK(plan.objects[2].errors_key == "sub/c.csv.out.errors");
  CHECK(plan.objects[2].output_uri == (dir.path / "out").string() + "/sub/c.csv.out");
  CHECK(plan.objects[0].uri == (dir.path / "in").string() + "/a.csv");
}

TEST_CASE("shards take disjoint objects that together are all of them") {
  TempDir dir;
  for (int i = 0; i < 20; ++i) dir.write("in/o" + std::to_string(i), "x");
  const auto job = job_for(dir.path / "in", dir.path / "out");
  std::set<std::string> seen;
  std::size_t other = 0;
  for (std::uint32_t index = 0; index < 3; ++index) {
    const auto plan = batch::plan_inputs(job, transform::Shard{index, 3}, false);
    for (const auto& r : relatives(plan)) CHECK(seen.insert(r).second);
    other += plan.other_shards;
  }
  CHECK(seen.size() == 20);
  CHECK(other == 40);
}

TEST_CASE("resuming skips objects whose .out exists") {
  TempDir dir;
  dir.write("in/a.csv", "1");
  dir.write("in/b.csv", "2");
  dir.write("out/a.csv.out", "done");
  const auto job = job_for(dir.path / "in", dir.path / "out");
  CHECK(relatives(batch::plan_inputs(job, {}, false)).size() == 2);
  const auto plan = batch::plan_inputs(job, {}, true);
  CHECK(relatives(plan) == std::vector<std::string>{"b.csv"});
  CHECK(plan.resumed == std::vector<std::string>{"a.csv"});
}

TEST_CASE("a manifest names its objects relative to its prefix") {
  TempDir dir;
  dir.write("data/x/a.csv", "1");
  dir.write("data/b.csv", "2");
  dir.write("m.json",
            "[{\"prefix\": \"" + (dir.path / "data").string() + "/\"}, \"x/a.csv\", \"b.csv\"]");
  transform::TransformJob job;
  job.input.uri = (dir.path / "m.json").string();
  job.input.data_type = transform::S3DataType::manifest_file;
  job.output.path = (dir.path / "out").string();
  const auto plan = batch::plan_inputs(job, {}, false);
  REQUIRE(relatives(plan) == std::vector<std::string>{"x/a.csv", "b.csv"});
  CHECK(plan.objects[0].output_key == "x/a.csv.out");
  CHECK(plan.objects[0].uri == (dir.path / "data").string() + "/x/a.csv");
}

TEST_CASE("an empty prefix and a folder given as a manifest are errors naming the URI") {
  TempDir dir;
  fs::create_directories(dir.path / "empty");
  auto job = job_for(dir.path / "empty", dir.path / "out");
  CHECK_THROWS_WITH(batch::plan_inputs(job, {}, false),
                    Catch::Contains("empty/: no objects under this prefix"));
  job.input.data_type = transform::S3DataType::manifest_file;
  CHECK_THROWS_WITH(batch::plan_inputs(job, {}, false),
                    Catch::Contains("ManifestFile needs the manifest file's URI"));
}
