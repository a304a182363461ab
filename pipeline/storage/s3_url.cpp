#include "pipeline/storage/s3_url.h"

#include <fmt/format.h>

#include <algorithm>

namespace tandem::storage {
namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

bool is_bucket_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string canonical_query(QueryParams params) {
  for (auto& [name, value] : params) {
    name = uri_encode(name, false);
    value = uri_encode(value, false);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string s3_object_url(const std::string& endpoint, const std::string& region,
                          const std::string& bucket, std::string_view key,
                          const QueryParams& query) {
  std::string url;
  std::string path = key.empty() ? "" : "/" + uri_encode(key, true);
  if (!endpoint.empty()) {
    url = fmt::format("{}/{}{}", endpoint, bucket, path);
  } else if (bucket.find('.') != std::string::npos) {
    url = fmt::format("https://s3.{}.amazonaws.com/{}{}", region, bucket, path);
  } else {
    url =
        fmt::format("https://{}.s3.{}.amazonaws.com{}", bucket, region, path.empty() ? "/" : path);
  }
  if (!query.empty()) url += "?" + canonical_query(query);
  return url;
}

std::string s3_uri(const std::string& bucket, std::string_view key) {
  return fmt::format("s3://{}/{}", bucket, key);
}

bool is_valid_bucket_name(std::string_view bucket) {
  return bucket.size() >= 3 && bucket.size() <= 63 &&
         std::all_of(bucket.begin(), bucket.end(), is_bucket_char) && bucket.front() != '.' &&
         bucket.front() != '-' && bucket.back() != '.' && bucket.back() != '-';
}

}  // namespace tandem::storage
