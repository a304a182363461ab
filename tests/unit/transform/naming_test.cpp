#include "pipeline/transform/naming.h"

#include <catch2/catch.hpp>
#include <set>
#include <vector>

using namespace tandem::transform;

TEST_CASE("Outputs keep the path relative to the input prefix", "[naming]") {
  CHECK(relative_key("in/sub/a.csv", "in/").value() == "sub/a.csv");
  CHECK(relative_key("in/a.csv", "in/a.csv").value() == "a.csv");
  CHECK(relative_key("in/data.csv", "in/da").value() == "data.csv");
  CHECK(relative_key("a.csv", "").value() == "a.csv");
  CHECK(relative_key("s3://b/in/x/y.json", "s3://b/in/").value() == "x/y.json");
  CHECK(relative_key("other/a.csv", "in/").error().message ==
        "key \"other/a.csv\" is not under the prefix \"in/\"");
  CHECK(relative_key("in/", "in/").error().message ==
        "key \"in/\" is the prefix's folder itself, not an object");
  const auto keys = output_keys("sub/a.csv");
  REQUIRE(keys.ok());
  CHECK(keys->output == "sub/a.csv.out");
  CHECK(keys->errors == "sub/a.csv.out.errors");
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
