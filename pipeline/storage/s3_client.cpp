#include "pipeline/storage/s3_client.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <strings.h>

#include "pipeline/storage/object_store.h"
#include "pipeline/storage/s3_xml.h"

namespace tandem::storage {
namespace {

constexpr std::size_t kMinPartSize = 5 * 1024 * 1024;
constexpr std::size_t kMaxPartSize = std::size_t{5} * 1024 * 1024 * 1024;

bool has_header(const std::vector<std::string>& headers, std::string_view name) {
  for (const std::string& header : headers) {
    if (header.size() > name.size() && header[name.size()] == ':' &&
        strncasecmp(header.data(), name.data(), name.size()) == 0) {
      return true;
    }
  }
  return false;
}

bool is_error_document(const HttpResponse& response) {
  return response.status / 100 == 2 && !parse_s3_error(response.body).code.empty();
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw StorageError("SHA-256 of a request body failed (OpenSSL EVP_Digest)");
  }
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

void validate(const S3Options& options) {
  if (options.part_size < kMinPartSize || options.part_size > kMaxPartSize) {
    throw StorageError(fmt::format("S3 part size {} is outside S3's bounds [{}, {}]",
                                   options.part_size, kMinPartSize, kMaxPartSize));
  }
  if (options.read_chunk_size == 0 || options.list_page_size < 1 || options.list_page_size > 1000 ||
      options.retry.max_tries < 1) {
    throw StorageError(
        "S3 options: read chunk size, page size (1-1000) and tries must be positive");
  }
}

S3Context::S3Context(S3Config config_in, S3Options options_in, std::string bucket_in)
    : config(std::move(config_in)),
      options(options_in),
      bucket(std::move(bucket_in)),
      credentials(config.credentials, options.retry) {
  validate(options);
}

S3Client::S3Client(std::shared_ptr<S3Context> context) : context_(std::move(context)) {}

HttpRequest S3Client::build(const S3Call& call, const std::string& payload_hash) {
  AwsCredentials credentials = context_->credentials.current();
  const S3Config& config = context_->config;
  HttpRequest request;
  request.method = call.method;
  request.url =
      s3_object_url(config.endpoint, config.region, context_->bucket, call.key, call.query);
  request.headers = call.headers;
  // libcurl signs every header given here. The payload hash is sent (S3 requires the header)
  // and computed by us, so the signature covers the body whichever libcurl computes it from.
  request.headers.push_back("x-amz-content-sha256: " + payload_hash);
  if (!credentials.session_token.empty()) {
    request.headers.push_back("x-amz-security-token: " + credentials.session_token);
  }
  if (!call.body.empty() || call.method == "PUT" || call.method == "POST") {
    if (!has_header(call.headers, "Content-Type"))
      request.headers.emplace_back("Content-Type: application/octet-stream");
  }
  request.body = call.body;
  request.max_response_body = call.max_response_body;
  request.connect_timeout = context_->options.connect_timeout;
  request.stall_timeout = context_->options.stall_timeout;
  request.sigv4_scope = fmt::format("aws:amz:{}:s3", config.region);
  request.access_key_id = credentials.access_key_id;
  request.secret_access_key = credentials.secret_access_key;
  return request;
}

HttpResponse S3Client::send(const S3Call& call) {
  std::string payload_hash = sha256_hex(call.body);
  // Built for each attempt: credentials may have been refreshed in between.
  auto attempt = [&] { return curl_.perform(build(call, payload_hash)); };
  auto retryable = [&](const HttpResponse& response) {
    if (call.error_in_ok_body && is_error_document(response)) {
      S3ErrorBody error = parse_s3_error(response.body);
      return error.code == "InternalError" || error.code == "SlowDown";
    }
    return is_retryable(response);
  };
  try {
    return with_retries(context_->options.retry, attempt, retryable);
  } catch (const StorageError& error) {  // no credentials to sign with
    throw StorageError(fmt::format("{}: {} failed: {}", where(call), call.operation, error.what()));
  }
}

HttpResponse S3Client::send_ok(const S3Call& call) {
  HttpResponse response = send(call);
  if (response.status / 100 != 2 || (call.error_in_ok_body && is_error_document(response))) {
    fail(call, response);
  }
  return response;
}

void S3Client::fail(const S3Call& call, const HttpResponse& response) const {
  std::string where = this->where(call);
  std::string after = response.tries > 1 ? fmt::format(" (after {} tries)", response.tries) : "";
  if (response.status == 0) {
    throw StorageError(
        fmt::format("{}: {} failed: {}{}", where, call.operation, response.error, after));
  }
  S3ErrorBody error = parse_s3_error(response.body);
  if (error.code.empty()) {
    throw StorageError(fmt::format("{}: {} failed: {} {}{}", where, call.operation, response.status,
                                   response.reason, after));
  }
  throw StorageError(fmt::format("{}: {} failed: {} {}: {}{}", where, call.operation,
                                 response.status, error.code, error.message, after));
}

}  // namespace tandem::storage
