// S3Store against a real S3 API (moto_server): round trips, multipart uploads, ranged reads,
// atomicity, paging, awkward keys and the exact error messages.
#include "pipeline/storage/s3_store.h"

#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "tests/unit/storage/moto_fixture.h"

namespace tandem::storage {
namespace {

using namespace std::chrono_literals;
using testing::MotoServer;
using testing::put_object;
using testing::read_all;

constexpr std::size_t kMiB = 1024 * 1024;

// A store on a fresh bucket of the shared moto server.
struct Bucket {
  std::string name = testing::fresh_bucket_name();
  S3Store store;
  explicit Bucket(MotoServer& moto, S3Options options = {}) : store(moto.config(), name, options) {
    testing::create_bucket(store);
  }
};

std::vector<std::string> keys_of(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const ObjectInfo& object : objects) keys.push_back(object.key);
  return keys;
}

TEST_CASE("S3: a small object round-trips and is invisible until commit", "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto);
  auto output = bucket.store.create("in/a.csv");
  output->write("1,2\n");
  output->write("3,4\n");
  CHECK_FALSE(bucket.store.exists("in/a.csv"));
  CHECK(bucket.store.list("").empty());
  output->commit();
  CHECK(bucket.store.exists("in/a.csv"));
  CHECK(read_all(*bucket.store.open("in/a.csv")) == "1,2\n3,4\n");
  CHECK(bucket.store.list("in/") == std::vector<ObjectInfo>{{"in/a.csv", 8}});

  put_object(bucket.store, "empty", "");
  CHECK(read_all(*bucket.store.open("empty")).empty());
}

TEST_CASE("S3: a 12 MiB object goes up in two parts and comes back byte-identical", "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto);
  std::string data = testing::random_bytes(12 * kMiB + 3, 42);
  auto output = bucket.store.create("big.bin");
  for (std::size_t at = 0; at < data.size(); at += kMiB)
    output->write(std::string_view(data).substr(at, kMiB));
  CHECK(testing::pending_uploads(bucket.store, "big.bin") == 1);  // part 1 is up, not visible
  CHECK_FALSE(bucket.store.exists("big.bin"));
  output->commit();

  CHECK(testing::pending_uploads(bucket.store, "big.bin") == 0);
  CHECK(bucket.store.list("big") == std::vector<ObjectInfo>{{"big.bin", data.size()}});
  HttpResponse head =
      bucket.store.client().send_ok({.operation = "HEAD", .method = "HEAD", .key = "big.bin"});
  CHECK_THAT(head.header("etag").value_or(""),
             Catch::EndsWith("-2\""));  // S3's mark of a 2-part upload
  CHECK(read_all(*bucket.store.open("big.bin"), 100'000) == data);
}

TEST_CASE("S3: reads stream through ranged GETs in small pieces", "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto, S3Options{.read_chunk_size = 256 * 1024});
  std::string odd = testing::random_bytes(3 * kMiB + 5, 1);
  std::string exact = testing::random_bytes(512 * 1024, 2);  // ends on a chunk boundary
  put_object(bucket.store, "odd", odd);
  put_object(bucket.store, "exact", exact);
  CHECK(read_all(*bucket.store.open("odd"), 1000) == odd);
  auto stream = bucket.store.open("exact");
  CHECK(read_all(*stream, 4096) == exact);
  char byte;
  CHECK(stream->read(&byte, 1) == 0);
  // One GET per 256 KiB chunk: 13 for 3 MiB + 5 bytes.
  std::string log = moto->log();
  std::size_t gets = 0;
  for (std::size_t at = log.find("GET /" + bucket.name + "/odd "); at != std::string::npos;
       at = log.find("GET /" + bucket.name + "/odd ", at + 1)) {
    ++gets;
  }
  CHECK(gets == 13);
}

TEST_CASE("S3: an object replaced while being read fails the read", "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto, S3Options{.read_chunk_size = 1024});
  put_object(bucket.store, "k", std::string(4096, 'a'));
  auto stream = bucket.store.open("k");
  char buffer[1024];
  CHECK(stream->read(buffer, sizeof buffer) == 1024);
  put_object(bucket.store, "k", std::string(4096, 'b'));
  CHECK_THROWS_WITH(stream->read(buffer, sizeof buffer),
                    "s3://" + bucket.name +
                        "/k: GET failed: 412 PreconditionFailed: "
                        "At least one of the pre-conditions you specified did not hold");
}

TEST_CASE("S3: abort, or dropping an uncommitted output, leaves no object and no upload",
          "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto);
  std::string part = std::string(9 * kMiB, 'x');  // over one part: the multipart upload starts
  {
    auto output = bucket.store.create("aborted");
    output->write(part);
    REQUIRE(testing::pending_uploads(bucket.store, "aborted") == 1);
    output->abort();
    CHECK_THROWS_WITH(output->commit(),
                      "s3://" + bucket.name + "/aborted: commit after commit or abort");
  }
  { bucket.store.create("dropped")->write(part); }
  { bucket.store.create("small")->write("never committed"); }
  for (const char* key : {"aborted", "dropped", "small"}) {
    CHECK(testing::pending_uploads(bucket.store, key) == 0);
    CHECK_FALSE(bucket.store.exists(key));
  }
  CHECK(bucket.store.list("").empty());
}

TEST_CASE("S3: list pages through continuation tokens", "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto, S3Options{.list_page_size = 2});
  for (const char* key :
       {"p/5", "p/1", "p/sub/3", "p/2", "p/4", "p/sub/deeper/6", "p/7", "q/other"}) {
    put_object(bucket.store, key, key);
  }
  std::vector<ObjectInfo> listed = bucket.store.list("p/");
  CHECK(keys_of(listed) ==
        std::vector<std::string>{"p/1", "p/2", "p/4", "p/5", "p/7", "p/sub/3", "p/sub/deeper/6"});
  CHECK(listed[6] == ObjectInfo{"p/sub/deeper/6", 14});
  CHECK(bucket.store.list("").size() == 8);
  CHECK(keys_of(bucket.store.list("p/sub/")) ==
        std::vector<std::string>{"p/sub/3", "p/sub/deeper/6"});  // a full last page
  CHECK(bucket.store.list("nothing/").empty());

  // Seven keys in pages of two: four requests, three of them continuing (moto logs the query
  // decoded).
  std::string log = moto->log();
  std::regex page("\"GET /" + bucket.name +
                  R"(\?(continuation-token=[^&]+&)?list-type=2&max-keys=2&prefix=p/ )");
  std::vector<std::string> tokens;
  for (std::sregex_iterator it(log.begin(), log.end(), page), end; it != end; ++it)
    tokens.push_back((*it)[1]);
  REQUIRE(tokens.size() == 4);
  CHECK(tokens[0].empty());
  CHECK((!tokens[1].empty() && !tokens[2].empty() && !tokens[3].empty()));
}

TEST_CASE("S3: keys with spaces, +, unicode and reserved characters", "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto);
  std::vector<std::string> keys = {"dir with space/a b.csv", "plus+sign=eq&amp;.csv",
                                   "unicode/é日本.csv",      "tilde~_-.csv",
                                   "percent%20literal.csv",  "q?mark#hash!*'().csv"};
  for (const std::string& key : keys) put_object(bucket.store, key, "data of " + key);
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  CHECK(keys_of(bucket.store.list("")) == sorted);
  for (const std::string& key : keys) {
    INFO(key);
    CHECK(bucket.store.exists(key));
    CHECK(read_all(*bucket.store.open(key)) == "data of " + key);
    CHECK(keys_of(bucket.store.list(key)) == std::vector<std::string>{key});
    bucket.store.remove(key);
    CHECK_FALSE(bucket.store.exists(key));
  }
}

TEST_CASE("S3: streams and outputs of one store are used from different threads at once",
          "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto, S3Options{.read_chunk_size = 64 * 1024});
  constexpr int kThreads = 4;
  std::vector<std::string> data;
  std::vector<std::unique_ptr<InputStream>> inputs;
  std::vector<std::unique_ptr<OutputObject>> outputs;
  for (int i = 0; i < kThreads; ++i) {
    data.push_back(testing::random_bytes(300'000 + i, 100 + i));
    put_object(bucket.store, "in/" + std::to_string(i), data.back());
    inputs.push_back(bucket.store.open("in/" + std::to_string(i)));
    outputs.push_back(bucket.store.create("out/" + std::to_string(i)));
  }
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      try {
        outputs[i]->write(read_all(*inputs[i], 777));
        outputs[i]->commit();
      } catch (const std::exception& error) {
        errors[i] = error.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kThreads; ++i) {
    CHECK(errors[i].empty());
    CHECK(read_all(*bucket.store.open("out/" + std::to_string(i))) == data[i]);
  }
}

TEST_CASE("S3: missing keys and buckets, with S3's own words", "[s3][moto][errors]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto);
  CHECK_THROWS_WITH(
      bucket.store.open("missing/key.csv"),
      "s3://" + bucket.name +
          "/missing/key.csv: GET failed: 404 NoSuchKey: The specified key does not exist.");
  CHECK_FALSE(bucket.store.exists("missing/key.csv"));
  CHECK_NOTHROW(bucket.store.remove("missing/key.csv"));

  S3Store nowhere(moto->config(), "no-such-bucket-here");
  CHECK_THROWS_WITH(nowhere.list("in/"),
                    "s3://no-such-bucket-here/in/: ListObjectsV2 failed: 404 NoSuchBucket: The "
                    "specified bucket does not exist");
  CHECK_THROWS_WITH(nowhere.create("k")->commit(),
                    "s3://no-such-bucket-here/k: PUT failed: 404 NoSuchBucket: The specified "
                    "bucket does not exist");
  CHECK_THROWS_WITH(bucket.store.open(""),
                    "s3://" + bucket.name + "/: an S3 key must be 1 to 1024 bytes long");
}

TEST_CASE("S3: a server that refuses connections is retried, then reported", "[s3][errors]") {
  int port = 0;
  {  // a loopback port nothing listens on: bound, then released
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    ::close(fd);
  }
  S3Config config{"http://127.0.0.1:" + std::to_string(port), "us-east-1",
                  AwsCredentials{"a", "b", "", std::nullopt}, "test"};
  S3Store store(config, "bucket", S3Options{.retry = {3, 1ms}});
  CHECK_THROWS_WITH(store.exists("k"), Catch::StartsWith("s3://bucket/k: HEAD failed: ") &&
                                           Catch::Contains("127.0.0.1") &&
                                           Catch::EndsWith(" (after 3 tries)"));
}

TEST_CASE("S3: open_location takes endpoint, region and credentials from the environment",
          "[s3][moto]") {
  MotoServer* moto = MotoServer::shared();
  if (!moto) return;
  Bucket bucket(*moto);
  put_object(bucket.store, "in/a.csv", "x");
  std::map<std::string, std::optional<std::string>> saved;
  std::map<std::string, std::string> env = {{"AWS_ENDPOINT_URL_S3", moto->endpoint()},
                                            {"AWS_ACCESS_KEY_ID", "testing"},
                                            {"AWS_SECRET_ACCESS_KEY", "testing"},
                                            {"AWS_REGION", "us-east-1"}};
  for (const auto& [name, value] : env) {
    const char* old = std::getenv(name.c_str());
    saved[name] = old ? std::optional<std::string>(old) : std::nullopt;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  Location location = open_location("s3://" + bucket.name + "/in/");
  for (const auto& [name, value] : saved)
    value ? ::setenv(name.c_str(), value->c_str(), 1) : ::unsetenv(name.c_str());
  CHECK(location.prefix == "in/");
  CHECK(location.store->list(location.prefix) == std::vector<ObjectInfo>{{"in/a.csv", 1}});
}

}  // namespace
}  // namespace tandem::storage
