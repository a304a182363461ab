#include "pipeline/storage/s3_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "pipeline/storage/s3_xml.h"

namespace tandem::storage {
namespace {

// A ListObjectsV2 page of 1,000 keys of up to 1 KiB each, with its XML around them.
constexpr std::size_t kMaxListResponse = 4 * 1024 * 1024;

std::shared_ptr<S3Context> make_context(S3Config config, std::string bucket, S3Options options) {
  if (!is_valid_bucket_name(bucket))
    throw StorageError(fmt::format("s3://{}: not a valid bucket name", bucket));
  return std::make_shared<S3Context>(std::move(config), options, std::move(bucket));
}

// S3 keys are 1 to 1,024 bytes; an empty key would address the bucket itself.
const std::string& checked(const S3Client& client, const std::string& key) {
  if (key.empty() || key.size() > 1024) {
    throw StorageError(fmt::format("{}: an S3 key must be 1 to 1024 bytes long", client.uri(key)));
  }
  return key;
}

}  // namespace

S3Store::S3Store(S3Config config, std::string bucket, S3Options options)
    : client_(make_context(std::move(config), std::move(bucket), options)) {}

std::vector<ObjectInfo> S3Store::list(const std::string& prefix) {
  std::vector<ObjectInfo> objects;
  std::string token;
  for (;;) {
    S3Call call{.operation = "ListObjectsV2", .method = "GET", .subject = prefix};
    call.query = {{"list-type", "2"},
                  {"max-keys", std::to_string(client_.options().list_page_size)},
                  {"prefix", prefix}};
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    call.max_response_body = kMaxListResponse;
    HttpResponse response = client_.send_ok(call);
    ListPage page = parse_list_page(response.body, client_.uri(prefix));
    std::move(page.objects.begin(), page.objects.end(), std::back_inserter(objects));
    if (!page.truncated) break;
    token = std::move(page.next_continuation_token);
  }
  // S3 lists in UTF-8 binary order already; sorting makes that a guarantee of this interface
  // rather than of the server (S3-compatible servers differ).
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

std::unique_ptr<InputStream> S3Store::open(const std::string& key) {
  return open_s3_object(client_.context(), checked(client_, key));
}

std::unique_ptr<OutputObject> S3Store::create(const std::string& key) {
  return create_s3_object(client_.context(), checked(client_, key));
}

bool S3Store::exists(const std::string& key) {
  S3Call call{.operation = "HEAD", .method = "HEAD", .key = checked(client_, key)};
  HttpResponse response = client_.send(call);
  if (response.status == 404) return false;
  if (response.status / 100 != 2) client_.fail(call, response);
  return true;
}

void S3Store::remove(const std::string& key) {
  S3Call call{.operation = "DELETE", .method = "DELETE", .key = checked(client_, key)};
  HttpResponse response = client_.send(call);
  if (response.status != 404 && response.status / 100 != 2) client_.fail(call, response);
}

}  // namespace tandem::storage
