// Signed requests to one S3 bucket: the URL, the SigV4 headers, retries, and failures turned
// into messages like `s3://bucket/key: GET failed: 404 NoSuchKey: The specified key does not
// exist.` A store and each stream it opens hold their own S3Client (one connection each) over
// a shared, thread-safe S3Context.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/storage/aws_config.h"
#include "pipeline/storage/credentials.h"
#include "pipeline/storage/curl_http.h"
#include "pipeline/storage/s3_url.h"

namespace tandem::storage {

// Defaults suit S3; tests shrink them to reach paging, multi-request reads and retries fast.
struct S3Options {
  // Multipart part size: S3 wants at least 5 MiB for all parts but the last, and allows at
  // most 10,000 parts, so 8 MiB parts cap an object at ~78 GiB. Memory per open output.
  std::size_t part_size = 8 * 1024 * 1024;
  // Bytes per ranged GET: the memory an open input stream holds.
  std::size_t read_chunk_size = 8 * 1024 * 1024;
  int list_page_size = 1000;  // max-keys per ListObjectsV2 request (S3's own maximum)
  RetryPolicy retry;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::seconds stall_timeout{60};
};

// Throws StorageError when an option is out of S3's bounds.
void validate(const S3Options& options);

struct S3Context {
  S3Context(S3Config config, S3Options options, std::string bucket);

  S3Config config;
  S3Options options;
  std::string bucket;
  CredentialProvider credentials;
};

struct S3Call {
  std::string operation;  // names the call in messages: "GET", "UploadPart 3"
  std::string method;
  std::string key;      // empty: the bucket itself
  std::string subject;  // what messages name instead of the key (a listed prefix)
  QueryParams query;
  std::vector<std::string> headers;
  std::string_view body;
  std::size_t max_response_body = 1024 * 1024;
  // CompleteMultipartUpload may answer 200 and still fail, with an <Error> body.
  bool error_in_ok_body = false;
};

class S3Client {
 public:
  explicit S3Client(std::shared_ptr<S3Context> context);

  // The final response, whatever its status (after retries). Throws StorageError only when
  // credentials cannot be had.
  HttpResponse send(const S3Call& call);
  // As send(), but throws StorageError unless the status is 2xx.
  HttpResponse send_ok(const S3Call& call);
  [[noreturn]] void fail(const S3Call& call, const HttpResponse& response) const;

  std::string uri(std::string_view key) const { return s3_uri(context_->bucket, key); }
  const S3Options& options() const { return context_->options; }
  const std::shared_ptr<S3Context>& context() const { return context_; }

 private:
  HttpRequest build(const S3Call& call, const std::string& payload_hash);
  std::string where(const S3Call& call) const {
    return uri(call.subject.empty() ? call.key : call.subject);
  }

  std::shared_ptr<S3Context> context_;
  CurlEasy curl_;
};

// Lower-case hex SHA-256, the x-amz-content-sha256 of a body.
std::string sha256_hex(std::string_view data);

}  // namespace tandem::storage
