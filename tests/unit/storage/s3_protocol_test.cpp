// The pure parts of the S3 client: URL encoding and building, XML, retries, payload hashes.
#include <catch2/catch.hpp>

#include "pipeline/storage/curl_http.h"
#include "pipeline/storage/s3_client.h"
#include "pipeline/storage/s3_url.h"
#include "pipeline/storage/s3_xml.h"

namespace tandem::storage {
namespace {

using namespace std::chrono_literals;

TEST_CASE("keys are encoded per SigV4: unreserved bytes kept, all else %XX", "[s3][url]") {
  CHECK(uri_encode("in/a b+c=d&e~f_g-h.csv", true) == "in/a%20b%2Bc%3Dd%26e~f_g-h.csv");
  CHECK(uri_encode("in/a b", false) == "in%2Fa%20b");
  CHECK(uri_encode("é/日本", true) == "%C3%A9/%E6%97%A5%E6%9C%AC");
  CHECK(uri_encode("100%!*'()", true) == "100%25%21%2A%27%28%29");
  CHECK(uri_encode(std::string("\x00\x7f\xff", 3), true) == "%00%7F%FF");
}

TEST_CASE("query strings are sent in canonical form, sorted", "[s3][url]") {
  CHECK(canonical_query(
            {{"prefix", "in/a b"}, {"list-type", "2"}, {"continuation-token", "x+y/z="}}) ==
        "continuation-token=x%2By%2Fz%3D&list-type=2&prefix=in%2Fa%20b");
  CHECK(canonical_query({{"uploads", ""}}) == "uploads=");
  CHECK(canonical_query({{"uploadId", "u"}, {"partNumber", "10"}}) == "partNumber=10&uploadId=u");
}

TEST_CASE("URLs: path-style on a custom endpoint, virtual-hosted on AWS", "[s3][url]") {
  CHECK(s3_object_url("http://127.0.0.1:9000", "us-east-1", "bucket", "in/a b.csv") ==
        "http://127.0.0.1:9000/bucket/in/a%20b.csv");
  CHECK(s3_object_url("http://127.0.0.1:9000", "us-east-1", "bucket", "", {{"list-type", "2"}}) ==
        "http://127.0.0.1:9000/bucket?list-type=2");
  CHECK(s3_object_url("", "eu-west-1", "bucket", "k+1") ==
        "https://bucket.s3.eu-west-1.amazonaws.com/k%2B1");
  CHECK(s3_object_url("", "eu-west-1", "bucket", "") ==
        "https://bucket.s3.eu-west-1.amazonaws.com/");
  CHECK(s3_object_url("", "eu-west-1", "my.bucket", "k", {{"uploads", ""}}) ==
        "https://s3.eu-west-1.amazonaws.com/my.bucket/k?uploads=");
  CHECK(s3_uri("bucket", "in/a.csv") == "s3://bucket/in/a.csv");
}

TEST_CASE("bucket names follow S3's rules", "[s3][url]") {
  for (const std::string& good :
       std::vector<std::string>{"abc", "my-bucket.v2", "0bucket9", std::string(63, 'a')}) {
    CHECK(is_valid_bucket_name(good));
  }
  for (const char* bad : {"", "ab", "Bucket", "under_score", "-start", "end.", "a/b", "a b"}) {
    CHECK_FALSE(is_valid_bucket_name(bad));
  }
  CHECK_FALSE(is_valid_bucket_name(std::string(64, 'a')));
}

TEST_CASE("S3 error bodies give their Code and Message", "[s3][xml]") {
  S3ErrorBody error = parse_s3_error(
      R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a</Key></Error>)");
  CHECK(error.code == "NoSuchKey");
  CHECK(error.message == "The specified key does not exist.");
  CHECK(parse_s3_error("").code.empty());
  CHECK(parse_s3_error("<html>502 Bad Gateway</html>").code.empty());
}

TEST_CASE("ListObjectsV2 pages", "[s3][xml]") {
  ListPage page = parse_list_page(
      R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated>
         <Contents><Key>in/a &amp; b.csv</Key><Size>12</Size></Contents>
         <Contents><Key>in/big</Key><Size>5000000000000</Size></Contents>
         <NextContinuationToken>tok/1+=</NextContinuationToken></ListBucketResult>)",
      "s3://b/in/");
  CHECK(page.objects ==
        std::vector<ObjectInfo>{{"in/a & b.csv", 12}, {"in/big", 5'000'000'000'000}});
  CHECK(page.truncated);
  CHECK(page.next_continuation_token == "tok/1+=");

  CHECK(
      parse_list_page("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>", "w")
          .objects.empty());
  CHECK_THROWS_WITH(
      parse_list_page("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", "w"),
      "w: ListObjectsV2 response is truncated but has no NextContinuationToken");
  CHECK_THROWS_WITH(
      parse_list_page("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
                      "</ListBucketResult>",
                      "w"),
      "w: ListObjectsV2 entry with key \"k\" has size \"-1\"");
  CHECK_THROWS_WITH(parse_list_page("<ListBucketResult>", "w"),
                    Catch::StartsWith("w: malformed ListObjectsV2 response: "));
  CHECK_THROWS_WITH(parse_list_page("<Other/>", "w"),
                    "w: ListObjectsV2 response has no ListBucketResult");
}

TEST_CASE("multipart upload XML", "[s3][xml]") {
  CHECK(parse_upload_id(
            "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u-1</UploadId>"
            "</InitiateMultipartUploadResult>",
            "w") == "u-1");
  CHECK_THROWS_WITH(parse_upload_id("<InitiateMultipartUploadResult/>", "w"),
                    "w: CreateMultipartUpload response has no UploadId");
  CHECK(complete_upload_body({"\"e1\"", "\"e2\""}) ==
        "<?xml version=\"1.0\"?><CompleteMultipartUpload "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag></Part></CompleteMultipartUpload>");
}

TEST_CASE("retry 5xx, 429 and transport failures, never other 4xx", "[s3][retry]") {
  auto status = [](long code) { return HttpResponse{.status = code}; };
  CHECK(is_retryable(status(500)));
  CHECK(is_retryable(status(503)));
  CHECK(is_retryable(status(429)));
  CHECK_FALSE(is_retryable(status(400)));
  CHECK_FALSE(is_retryable(status(403)));
  CHECK_FALSE(is_retryable(status(404)));
  CHECK_FALSE(is_retryable(status(200)));
  CHECK(is_retryable(HttpResponse{.status = 0, .transient_error = true}));
  CHECK_FALSE(
      is_retryable(HttpResponse{.status = 0, .transient_error = false}));  // e.g. body too large
}

TEST_CASE("backoff grows fourfold, with jitter in the upper half", "[s3][retry]") {
  RetryPolicy policy{3, 100ms};
  CHECK(backoff_delay(policy, 1, 0.0) == 50ms);
  CHECK(backoff_delay(policy, 1, 0.999) == 99ms);
  CHECK(backoff_delay(policy, 2, 0.0) == 200ms);
  CHECK(backoff_delay(policy, 2, 0.5) == 300ms);
}

TEST_CASE("with_retries stops at max_tries, or at the first answer not worth retrying",
          "[s3][retry]") {
  RetryPolicy policy{3, 1ms};
  std::vector<long> answers;
  std::size_t calls = 0;
  auto attempt = [&] { return HttpResponse{.status = answers[calls++]}; };

  answers = {503, 503, 503, 200};
  HttpResponse last = with_retries(policy, attempt);
  CHECK((calls == 3 && last.status == 503 && last.tries == 3));

  calls = 0;
  answers = {500, 200};
  last = with_retries(policy, attempt);
  CHECK((calls == 2 && last.status == 200 && last.tries == 2));

  calls = 0;
  answers = {404, 200};
  last = with_retries(policy, attempt);
  CHECK((calls == 1 && last.status == 404 && last.tries == 1));
}

TEST_CASE("payload hashes are lower-case hex SHA-256", "[s3]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
}

TEST_CASE("S3 options are checked against S3's bounds", "[s3]") {
  S3Options options;
  CHECK_NOTHROW(validate(options));
  options.part_size = 1024 * 1024;
  CHECK_THROWS_WITH(validate(options),
                    "S3 part size 1048576 is outside S3's bounds [5242880, 5368709120]");
}

}  // namespace
}  // namespace tandem::storage
