// The XML bodies S3 sends and expects, parsed and built with pugixml. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/storage/object_store.h"

namespace tandem::storage {

// S3's <Error> document. Both fields are empty when `body` is not one (HEAD responses have
// no body; proxies answer with HTML).
struct S3ErrorBody {
  std::string code;
  std::string message;
};
S3ErrorBody parse_s3_error(std::string_view body);

struct ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::string next_continuation_token;
};
// A ListObjectsV2 response. Throws StorageError (prefixed with `where`) when it is malformed.
ListPage parse_list_page(std::string_view body, const std::string& where);

// The UploadId of a CreateMultipartUpload response; throws StorageError when absent.
std::string parse_upload_id(std::string_view body, const std::string& where);

// The CompleteMultipartUpload request body for parts 1..N with these ETags.
std::string complete_upload_body(const std::vector<std::string>& part_etags);

}  // namespace tandem::storage
