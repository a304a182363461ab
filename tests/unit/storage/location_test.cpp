// Storage URIs: parsing, and what open_location makes of local paths.
#include <catch2/catch.hpp>

#include "pipeline/storage/local_store.h"
#include "pipeline/storage/uri.h"
#include "tests/unit/storage/test_support.h"

namespace tandem::storage {
namespace {

using Scheme = StorageUri::Scheme;

TEST_CASE("s3 URIs: bucket and key prefix", "[uri]") {
  StorageUri uri = parse_storage_uri("s3://my-bucket/in/data/");
  CHECK(uri.scheme == Scheme::kS3);
  CHECK(uri.bucket == "my-bucket");
  CHECK(uri.path == "in/data/");
  CHECK(parse_storage_uri("s3://my-bucket").path.empty());
  CHECK(parse_storage_uri("s3://my-bucket/").path.empty());
  CHECK(parse_storage_uri("s3://b.b/a b+c").path == "a b+c");  // S3 URIs are not percent-encoded
  CHECK_THROWS_WITH(parse_storage_uri("s3://My_Bucket/x"),
                    "\"s3://My_Bucket/x\": \"My_Bucket\" is not a valid S3 bucket name");
}

TEST_CASE("file URIs and plain paths", "[uri]") {
  CHECK(parse_storage_uri("file:///data/in%20put/a.csv").path == "/data/in put/a.csv");
  CHECK(parse_storage_uri("file://localhost/data").path == "/data");
  CHECK(parse_storage_uri("relative/dir").path == "relative/dir");
  CHECK(parse_storage_uri("/abs/with://inside").scheme == Scheme::kLocal);
  CHECK_THROWS_WITH(
      parse_storage_uri("file://server/share"),
      "\"file://server/share\": a file URI needs an absolute path on this host: file:///path");
  CHECK_THROWS_WITH(parse_storage_uri("file:///bad%2"),
                    "\"file:///bad%2\": malformed percent-escape");
  CHECK_THROWS_WITH(parse_storage_uri("gs://bucket/x"),
                    "\"gs://bucket/x\": unsupported scheme \"gs\" (use s3://, file:// or a path)");
  CHECK_THROWS_WITH(parse_storage_uri(""), "\"\": empty storage URI");
}

TEST_CASE("a local folder is the store, a file or new name is a prefix in its parent", "[uri]") {
  testing::TempDir dir;
  testing::write_file(dir.path() / "in/a.csv", "1");
  testing::write_file(dir.path() / "in/sub/b.csv", "22");
  std::string root = dir.path().string();

  Location folder = open_location(root + "/in");
  CHECK(folder.prefix.empty());
  CHECK(folder.uri == root + "/in");
  CHECK(folder.store->list(folder.prefix) ==
        std::vector<ObjectInfo>{{"a.csv", 1}, {"sub/b.csv", 2}});

  Location file = open_location("file://" + root + "/in/a.csv");
  CHECK(file.prefix == "a.csv");
  CHECK(file.store->list(file.prefix) == std::vector<ObjectInfo>{{"a.csv", 1}});

  Location output = open_location(root + "/out/");  // not there yet: made on the first commit
  CHECK(output.prefix.empty());
  auto object = output.store->create("x/a.csv.out");
  object->write("ok");
  object->commit();
  CHECK(testing::read_file(dir.path() / "out/x/a.csv.out") == "ok");

  Location named = open_location(root + "/results");
  CHECK(named.prefix == "results");
  CHECK(dynamic_cast<LocalStore&>(*named.store).root() == dir.path());
  CHECK(named.description == "local folder " + root);
  CHECK(folder.description == "local folder " + root + "/in");
}

TEST_CASE("an S3 location describes itself without its credentials", "[uri]") {
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret", 1);
  ::setenv("AWS_SESSION_TOKEN", "session-token-secret", 1);
  ::setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9", 1);
  ::setenv("AWS_REGION", "eu-west-1", 1);
  Location location = open_location("s3://bucket/in/");
  for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                           "AWS_ENDPOINT_URL_S3", "AWS_REGION"}) {
    ::unsetenv(name);
  }
  CHECK(location.description ==
        "S3 bucket bucket at http://127.0.0.1:9, region eu-west-1, credentials from environment "
        "(AWS_ACCESS_KEY_ID)");
}

TEST_CASE("folder_within finds an output folder inside the input's folder", "[uri]") {
  testing::TempDir dir;
  testing::write_file(dir.path() / "in/a.csv", "1");
  testing::write_file(dir.path() / "in2/a.csv", "1");
  std::filesystem::create_directory_symlink(dir.path() / "in", dir.path() / "alias");
  const std::string root = dir.path().string();
  const Location in = open_location(root + "/in");
  auto within = [&](const Location& outer, const std::string& inner) {
    return folder_within(outer, open_location(inner));
  };
  CHECK(within(in, root + "/in/out/") == "out/");
  CHECK(within(in, root + "/in/out/deeper/") == "out/deeper/");
  CHECK(within(in, root + "/in/") == "");
  CHECK(within(in, "file://" + root + "/in/o%75t/") == "out/");
  CHECK(within(in, root + "/alias/out/") == "out/");      // another name of the same folder
  CHECK(within(in, root + "/in/../in/out/") == "out/");   // normalised
  CHECK(within(in, root + "/in2/out/") == std::nullopt);  // a sibling sharing a name prefix
  CHECK(within(in, root + "/") == std::nullopt);          // the input is inside the output
  CHECK(within(in, root + "/elsewhere/") == std::nullopt);
  // A partial prefix (`in/da` lists `in/data.csv`): its folder is what counts.
  const Location partial = open_location(root + "/in/da");
  CHECK(partial.prefix == "da");
  CHECK(within(partial, root + "/in/data-out/") == "data-out/");
  CHECK(within(partial, root + "/in/other/") == "other/");
}

TEST_CASE("folder_within compares S3 locations by bucket and key", "[uri]") {
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  ::setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9", 1);
  const Location in = open_location("s3://bucket/in/");
  const Location in_partial = open_location("s3://bucket/in/da");
  const Location out = open_location("s3://bucket/in/out/");
  const Location other_bucket = open_location("s3://other/in/out/");
  const Location root = open_location("s3://bucket/");
  const Location local = open_location("/tmp/in/out/");
  for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3"}) {
    ::unsetenv(name);
  }
  CHECK(folder_within(in, out) == "in/out/");
  CHECK(folder_within(in_partial, out) == "in/out/");
  CHECK(folder_within(in, other_bucket) == std::nullopt);
  CHECK(folder_within(in, root) == std::nullopt);
  CHECK(folder_within(root, out) == "in/out/");
  CHECK(folder_within(in, local) == std::nullopt);
}

}  // namespace
}  // namespace tandem::storage
