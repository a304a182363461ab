#include "pipeline/batch/inputs.h"

#include <algorithm>
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

namespace {

transform::TransformJob manifest_job(const TempDir& dir, const std::string& manifest) {
  dir.write("m.json", manifest);
  transform::TransformJob job;
  job.input.uri = (dir.path / "m.json").string();
  job.input.data_type = transform::S3DataType::manifest_file;
  job.output.path = (dir.path / "out").string();
  return job;
}

std::string refusal(const TempDir& dir, int index, const std::string& entry,
                    const std::string& folder, const std::string& names = "") {
  return (dir.path / "m.json").string() + ": [" + std::to_string(index) + "]: \"" + entry +
         "\" leads outside the prefix's folder " + folder +
         (names.empty() ? "" : " (it names \"" + names + "\" there)") +
         "; an entry may not be absolute or have a \".\" or \"..\" segment";
}

}  // namespace

TEST_CASE("a manifest entry is checked once percent-decoded, every refused entry named") {
  TempDir dir;
  dir.write("data/ok.csv", "1");
  dir.write("secret", "s");
  const std::string data = (dir.path / "data").string();
  const std::string folder = "file://" + data + "/";
  const auto job = manifest_job(
      dir, "[{\"prefix\": \"" + folder +
               "\"}, \"ok.csv\", \"%2e%2e/secret\", \"x/%2E%2E/%2e%2e/secret\", \"%2fetc/passwd\", "
               "\"../secret\", \"bad%zz\"]");
  CHECK_THROWS_WITH(batch::plan_inputs(job, {}, false),
                    refusal(dir, 2, "%2e%2e/secret", folder, "../secret") + "\n" +
                        refusal(dir, 3, "x/%2E%2E/%2e%2e/secret", folder, "x/../../secret") + "\n" +
                        refusal(dir, 4, "%2fetc/passwd", folder, "/etc/passwd") + "\n" +
                        refusal(dir, 5, "../secret", folder) + "\n" + job.input.uri + ": [6]: \"" +
                        folder + "bad%zz\": malformed percent-escape");
}

TEST_CASE("a manifest entry is decoded like its file:// URI and named as written") {
  TempDir dir;
  dir.write("data/sub dir/a b.csv", "1");
  const std::string data = (dir.path / "data").string();
  const auto job =
      manifest_job(dir, "[{\"prefix\": \"file://" + data + "/\"}, \"sub%20dir/a%20b.csv\"]");
  const auto plan = batch::plan_inputs(job, {}, false);
  REQUIRE(relatives(plan) == std::vector<std::string>{"sub%20dir/a%20b.csv"});
  CHECK(plan.objects[0].key == "sub dir/a b.csv");
  CHECK(plan.objects[0].uri == "file://" + data + "/sub%20dir/a%20b.csv");
  CHECK(plan.objects[0].output_key == "sub%20dir/a%20b.csv.out");
}

TEST_CASE("a manifest prefix joins its entries as written, plain paths are not decoded") {
  TempDir dir;
  dir.write("data/part-1.csv", "1");
  dir.write("data/%2e%2e/x.csv", "2");  // a folder really named %2e%2e
  const std::string data = (dir.path / "data").string();
  const auto plan = batch::plan_inputs(
      manifest_job(dir, "[{\"prefix\": \"" + data + "/part-\"}, \"1.csv\"]"), {}, false);
  REQUIRE(plan.objects.size() == 1);
  CHECK(plan.objects[0].key == "part-1.csv");
  // Named as a listed key is: the prefix ends inside "part-1.csv", which is kept whole.
  CHECK(plan.objects[0].output_key == "part-1.csv.out");
  const auto literal = batch::plan_inputs(
      manifest_job(dir, "[{\"prefix\": \"" + data + "/\"}, \"%2e%2e/x.csv\"]"), {}, false);
  REQUIRE(literal.objects.size() == 1);
  CHECK(literal.objects[0].key == "%2e%2e/x.csv");
}

TEST_CASE("links in the input folder are left out and named") {
  TempDir dir;
  dir.write("in/a.csv", "1");
  dir.write("outside/secret.csv", "s");
  fs::create_directory_symlink(dir.path / "outside", dir.path / "in/etclink");
  const auto plan = batch::plan_inputs(job_for(dir.path / "in", dir.path / "out"), {}, false);
  CHECK(relatives(plan) == std::vector<std::string>{"a.csv"});
  CHECK(plan.listed == 1);
  CHECK(plan.left_out.skipped == std::vector<batch::SkippedInput>{
                                     {(dir.path / "in/etclink").string(),
                                      "a symbolic link (to " + (dir.path / "outside").string() +
                                          "); tandem does not follow links in an input folder"}});
}

TEST_CASE("an output folder inside the input folder is never listed as input") {
  TempDir dir;
  dir.write("in/a.csv", "1");
  dir.write("in/out/a.csv.out", "1");
  dir.write("in/out/sub/b.csv.out", "2");
  dir.write("in/outer.csv", "3");  // shares the folder's name prefix, still input
  const auto plan = batch::plan_inputs(job_for(dir.path / "in", dir.path / "in/out"), {}, false);
  CHECK(relatives(plan) == std::vector<std::string>{"a.csv", "outer.csv"});
  CHECK(plan.listed == 2);
  CHECK(plan.left_out.in_output_folder == 2);
  CHECK(plan.left_out.output_folder == (dir.path / "in/out").string() + "/");

  auto same = job_for(dir.path / "in", dir.path / "in");
  CHECK_THROWS_WITH(batch::plan_inputs(same, {}, false),
                    (dir.path / "in").string() +
                        "/: no objects under this prefix; 4 object(s) under the output folder " +
                        (dir.path / "in").string() + "/, which is never read as input");
  // An output folder beside the input, or holding it, leaves every input object in.
  CHECK(batch::plan_inputs(job_for(dir.path / "in", dir.path), {}, false).objects.size() == 4);
}

TEST_CASE("resuming does not take an output behind a link for done") {
  TempDir dir;
  dir.write("in/sub/a.csv", "1");
  dir.write("elsewhere/a.csv.out", "not ours");
  fs::create_directories(dir.path / "out");
  fs::create_directory_symlink(dir.path / "elsewhere", dir.path / "out/sub");
  const auto plan = batch::plan_inputs(job_for(dir.path / "in", dir.path / "out"), {}, true);
  CHECK(relatives(plan) == std::vector<std::string>{"sub/a.csv"});
  CHECK(plan.resumed.empty());
}

TEST_CASE("a folder named without a trailing slash names outputs below it") {
  TempDir dir;
  dir.write("in/a.csv", "1");
  dir.write("in/sub/b.csv", "2");
  auto job = job_for(dir.path / "in", dir.path / "out");
  job.input.uri = (dir.path / "in").string();
  CHECK(relatives(batch::plan_inputs(job, {}, false)) ==
        std::vector<std::string>{"a.csv", "sub/b.csv"});
  job.input.uri = "file://" + (dir.path / "in").string();
  CHECK(relatives(batch::plan_inputs(job, {}, false)) ==
        std::vector<std::string>{"a.csv", "sub/b.csv"});
}

TEST_CASE("a local prefix that ends inside a name keeps that name whole") {
  TempDir dir;
  dir.write("in/data.csv", "1");
  dir.write("in/dat/b.csv", "2");
  dir.write("in/other.csv", "3");
  auto job = job_for(dir.path / "in", dir.path / "out");
  job.input.uri = (dir.path / "in/da").string();
  const auto plan = batch::plan_inputs(job, {}, false);
  CHECK(relatives(plan) == std::vector<std::string>{"dat/b.csv", "data.csv"});
  CHECK(plan.objects[1].output_key == "data.csv.out");
}

TEST_CASE("a manifest prefix without a trailing slash names its entries like a listed prefix") {
  TempDir dir;
  dir.write("data/x/a.csv", "1");
  const std::string data = (dir.path / "data").string();
  const auto plan = batch::plan_inputs(
      manifest_job(dir, "[{\"prefix\": \"" + data + "\"}, \"/x/a.csv\"]"), {}, false);
  REQUIRE(plan.objects.size() == 1);
  CHECK(plan.objects[0].key == "data/x/a.csv");  // read through the prefix's folder
  CHECK(plan.objects[0].output_key == "x/a.csv.out");
}

TEST_CASE("a manifest that lists an object twice is refused, naming both") {
  TempDir dir;
  dir.write("data/a.csv", "1");
  dir.write("data/b.csv", "2");
  const std::string data = (dir.path / "data").string();
  const auto job =
      manifest_job(dir, "[{\"prefix\": \"" + data + "/\"}, \"a.csv\", \"b.csv\", \"a.csv\"]");
  CHECK_THROWS_WITH(batch::plan_inputs(job, {}, false),
                    job.input.uri + ": two inputs would write one output:\n" + data +
                        "/a.csv and " + data +
                        "/a.csv would both write \"a.csv.out\"\nlist each object once in the "
                        "manifest");
  // Every shard refuses it, also one that takes neither entry.
  CHECK_THROWS(batch::plan_inputs(job, transform::Shard{1, 2}, false));
  CHECK_THROWS(batch::plan_inputs(job, transform::Shard{0, 2}, false));
}

namespace {

std::vector<std::string> hidden_files(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.starts_with('.')) {
      names.push_back(entry.path().lexically_relative(folder).string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("resuming removes the temporary files a killed run left for this shard's outputs") {
  TempDir dir;
  // Two shards of one job: find a key of each.
  std::string mine, theirs;
  for (int i = 0; mine.empty() || theirs.empty(); ++i) {
    const std::string name = "o" + std::to_string(i) + ".csv";
    (transform::shard_of("sub/" + name, 2) == 0 ? mine : theirs) = name;
  }
  dir.write("in/sub/" + mine, "1");
  dir.write("in/sub/" + theirs, "2");
  const std::string suffix = ".tmp-0123456789abcdef";
  dir.write("out/sub/." + mine + ".out" + suffix, "partial");
  dir.write("out/sub/." + mine + ".out.errors" + suffix, "partial");
  dir.write("out/sub/." + theirs + ".out" + suffix, "another host is writing this");
  dir.write("out/sub/." + mine + ".out.tmp-0123", "not tandem's name shape");
  dir.write("out/sub/." + mine + ".out.tmp-0123456789ABCDEF", "not tandem's name shape");
  dir.write("out/sub/.notes", "the user's");
  const auto job = job_for(dir.path / "in", dir.path / "out");

  const auto fresh = batch::plan_inputs(job, transform::Shard{0, 2}, false);
  CHECK(fresh.removed_leftovers.empty());
  CHECK(hidden_files(dir.path / "out").size() == 6);

  const auto plan = batch::plan_inputs(job, transform::Shard{0, 2}, true);
  CHECK(relatives(plan) == std::vector<std::string>{"sub/" + mine});
  const std::string out = (dir.path / "out").string();
  CHECK(sorted(plan.removed_leftovers) == sorted({out + "/sub/." + mine + ".out" + suffix,
                                                  out + "/sub/." + mine + ".out.errors" + suffix}));
  CHECK(hidden_files(dir.path / "out") ==
        sorted({"sub/." + mine + ".out.tmp-0123", "sub/." + mine + ".out.tmp-0123456789ABCDEF",
                "sub/." + theirs + ".out" + suffix, "sub/.notes"}));
}
