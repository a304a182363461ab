// S3 request URLs, built in the exact form SigV4 signs. libcurl 7.88 signs the path and the
// query string as they appear in the URL (it neither re-encodes the path nor sorts the query),
// so the URL itself must already be canonical: every byte outside A-Z a-z 0-9 - _ . ~
// percent-encoded in upper-case hex, and query parameters sorted, each as `name=value`.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::storage {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Percent-encodes per SigV4; '/' stays as is when `keep_slash` (object keys keep their
// segments).
std::string uri_encode(std::string_view text, bool keep_slash);

// `a=1&b=x%2Fy`: sorted by name, names and values encoded; `?uploads` becomes `uploads=`.
std::string canonical_query(QueryParams params);

// The URL of `key` in `bucket` (the bucket itself when `key` is empty). With a custom
// `endpoint`, path-style (`http://127.0.0.1:9000/bucket/key`); on AWS, virtual-hosted
// (`https://bucket.s3.eu-west-1.amazonaws.com/key`), or path-style on the regional host for
// bucket names with dots, which the wildcard TLS certificate does not cover.
std::string s3_object_url(const std::string& endpoint, const std::string& region,
                          const std::string& bucket, std::string_view key,
                          const QueryParams& query = {});

// `s3://bucket/key`, for messages.
std::string s3_uri(const std::string& bucket, std::string_view key);

// S3's bucket naming rules (3-63 characters of a-z 0-9 . -, starting and ending with a letter
// or digit); rejects what would otherwise become a malformed host name or path.
bool is_valid_bucket_name(std::string_view bucket);

}  // namespace tandem::storage
