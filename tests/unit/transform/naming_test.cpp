#include "pipeline/transform/naming.h"

#include <catch2/catch.hpp>
#include <set>
#include <vector>

using namespace tandem::transform;

TEST_CASE("Outputs keep the path relative to the input prefix", "[naming]") {
  CHECK(relative_key("in/sub/a.csv", "in/").value() == "sub/a.csv");
  CHECK(relative_key("in/a.csv", "in/a.csv").value() == "a.csv");
  CHECK(relative_key("a.csv", "").value() == "a.csv");
  CHECK(relative_key("s3://b/in/x/y.json", "s3://b/in/").value() == "x/y.json");
  CHECK(relative_key("other/a.csv", "in/").error().message ==
        "key \"other/a.csv\" is not under the prefix \"in/\"");
  CHECK(relative_key("in/", "in/").error().message ==
        "key \"in/\" is the folder the prefix names, not an object");
  const auto keys = output_keys("sub/a.csv");
  REQUIRE(keys.ok());
  CHECK(keys->output == "sub/a.csv.out");
  CHECK(keys->errors == "sub/a.csv.out.errors");
}

// SageMaker's own runs: the SDK's integration test (tests/integ/test_transformer.py), the scikit
// bring-your-own-container and TFRecord batch notebooks, all with prefixes without a "/".
TEST_CASE("A prefix without a trailing slash names the folder it ends at", "[naming]") {
  CHECK(relative_key("integ-test-data/mnist/transform/data.csv", "integ-test-data/mnist/transform")
            .value() == "data.csv");
  CHECK(relative_key("DEMO-scikit-byo-iris/iris.csv", "DEMO-scikit-byo-iris").value() ==
        "iris.csv");
  CHECK(relative_key("batch_input/iris_test.tfrecords", "batch_input").value() ==
        "iris_test.tfrecords");
  CHECK(relative_key("in/sub/a.csv", "in").value() == "sub/a.csv");
  CHECK(relative_key("in/sub/a.csv", "in/sub").value() == "a.csv");
  CHECK(relative_key("in/", "in").error().message ==
        "key \"in/\" is the folder the prefix names, not an object");
}

TEST_CASE("A prefix that ends inside a segment keeps that whole segment", "[naming]") {
  CHECK(relative_key("in/data.csv", "in/da").value() == "data.csv");
  CHECK(relative_key("in/dat/b.csv", "in/da").value() == "dat/b.csv");
  CHECK(relative_key("input.csv", "in").value() == "input.csv");
  CHECK(relative_key("in/subway/a.csv", "in/sub").value() == "subway/a.csv");
  // A prefix that is a whole key names the object by its last segment.
  CHECK(relative_key("in/sub", "in/sub").value() == "sub");
  CHECK(relative_key("a.csv", "a.csv").value() == "a.csv");
}

TEST_CASE("Two inputs that would write one output are named", "[naming]") {
  CHECK(check_distinct_outputs({}).ok());
  CHECK(check_distinct_outputs({{"s3://b/in/a", "a"}, {"s3://b/in/b", "b"}}).ok());
  // `in/sub` names the folder in/sub/ and ends inside in/subway.
  const std::string first = "s3://b/in/sub/subway/a.csv", second = "s3://b/in/subway/a.csv";
  const Status clash =
      check_distinct_outputs({{first, relative_key("in/sub/subway/a.csv", "in/sub").value()},
                              {"s3://b/in/sub/x.csv", "x.csv"},
                              {second, relative_key("in/subway/a.csv", "in/sub").value()}});
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.error().message ==
        first + " and " + second + " would both write \"subway/a.csv.out\"");

  std::vector<std::string> uris;
  for (int i = 0; i < 13; ++i) uris.push_back("m.json entry " + std::to_string(i));
  std::vector<NamedInput> same;
  for (const auto& uri : uris) same.push_back({uri, "a.csv"});
  const Status many = check_distinct_outputs(same);
  REQUIRE_FALSE(many.ok());
  CHECK(many.error().message.starts_with(
      "m.json entry 0 and m.json entry 1 would both write \"a.csv.out\"\n"
      "m.json entry 0 and m.json entry 2 would both write \"a.csv.out\"\n"));
  CHECK(many.error().message.ends_with(
      "m.json entry 0 and m.json entry 10 would both write \"a.csv.out\"\n... and 2 more"));
}

TEST_CASE("Output keys that could escape the output location are refused", "[naming]") {
  for (const char* key : {"../a.csv", "sub/../../a", "/etc/passwd", "./a", "a/.", ""}) {
    INFO(key);
    CHECK_FALSE(output_keys(key).ok());
  }
  CHECK(output_keys("../a.csv").error().message ==
        "cannot name the output of \"../a.csv\": an empty or absolute key, or a \".\" or \"..\" "
        "segment, could write outside the output location");
  CHECK(output_keys("a..b/.c/..d").ok());
}

TEST_CASE("A key stays below its folder without absolute paths or dot segments", "[naming]") {
  for (const char* key : {"a.csv", "sub/a.csv", "a..b/.c/..d", "%2e%2e/x", "a//b"}) {
    INFO(key);
    CHECK(stays_below(key));
  }
  for (const char* key :
       {"", "/etc/passwd", "..", "../a", "a/..", "a/../../b", ".", "./a", "a/./b"}) {
    INFO(key);
    CHECK_FALSE(stays_below(key));
  }
  CHECK_FALSE(stays_below(std::string_view("a\0b", 3)));
}

TEST_CASE("Locations join with one slash", "[naming]") {
  CHECK(join_location("s3://b/out", "sub/a.csv.out") == "s3://b/out/sub/a.csv.out");
  CHECK(join_location("s3://b/out/", "a.out") == "s3://b/out/a.out");
  CHECK(join_location("", "a.out") == "a.out");
}

TEST_CASE("FNV-1a 64 matches its reference values", "[naming]") {
  CHECK(fnv1a_64("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a_64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a_64("foobar") == 0x85944171f73967e8ULL);
}

TEST_CASE("Shards partition a set of 1000 keys exactly", "[naming]") {
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("in/part-" + std::to_string(i) + ".csv");
  for (std::uint32_t count : {1U, 2U, 3U, 7U, 16U}) {
    INFO("count " << count);
    std::vector<int> owners(keys.size(), 0);
    std::vector<int> per_shard(count, 0);
    for (std::uint32_t index = 0; index < count; ++index) {
      const Shard shard{index, count};
      for (std::size_t k = 0; k < keys.size(); ++k) {
        if (shard.owns(keys[k])) {
          ++owners[k];
          ++per_shard[index];
        }
      }
    }
    CHECK(std::all_of(owners.begin(), owners.end(), [](int n) { return n == 1; }));
    // Spread: no shard gets less than half its fair share.
    for (int n : per_shard) CHECK(n * 2 * static_cast<int>(count) >= 1000);
  }
  CHECK(shard_of("in/part-1.csv", 7) == shard_of("in/part-1.csv", 7));
}

TEST_CASE("The shard comes from flags, then the platform's environment", "[naming]") {
  auto resolve = [](ShardSources sources) {
    auto shard = resolve_shard(sources);
    return shard ? std::to_string(shard->index) + "/" + std::to_string(shard->count)
                 : shard.error().message;
  };
  CHECK(resolve({}) == "0/1");
  CHECK(resolve({.index_flag = "2", .count_flag = "4"}) == "2/4");
  CHECK(resolve({.count_flag = "4", .job_completion_index = "3"}) == "3/4");
  CHECK(resolve({.aws_batch_job_array_index = "1", .count_env = "2"}) == "1/2");
  CHECK(resolve({.index_flag = "0", .count_flag = "3", .job_completion_index = "2"}) == "0/3");
  CHECK(
      resolve({.job_completion_index = "1", .aws_batch_job_array_index = "0", .count_env = "5"}) ==
      "1/5");
  CHECK(resolve({.count_flag = "4"}) ==
        "--shard-count 4 needs a shard index: --shard-index, JOB_COMPLETION_INDEX or "
        "AWS_BATCH_JOB_ARRAY_INDEX");
  CHECK(resolve({.job_completion_index = "2"}) ==
        "JOB_COMPLETION_INDEX 2 needs a shard count: --shard-count or TANDEM_SHARD_COUNT");
  CHECK(resolve({.index_flag = "4", .count_flag = "4"}) ==
        "--shard-index 4 is not below "
        "--shard-count 4");
  CHECK(resolve({.index_flag = "-1", .count_flag = "4"}) ==
        "--shard-index: expected a whole number, got \"-1\"");
  CHECK(resolve({.index_flag = "0", .count_env = "0"}) ==
        "TANDEM_SHARD_COUNT: expected 1 to 65536, got 0");
  CHECK(resolve({.index_flag = "0", .count_flag = "99999999999"}) ==
        "--shard-count: expected a whole number, got \"99999999999\"");
}
