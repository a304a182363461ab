#include "pipeline/storage/s3_xml.h"

#include <fmt/format.h>

#include <charconv>
#include <pugixml.hpp>
#include <sstream>

namespace tandem::storage {
namespace {

pugi::xml_document parse(std::string_view body, const std::string& where, const char* what) {
  pugi::xml_document document;
  pugi::xml_parse_result result = document.load_buffer(body.data(), body.size());
  if (!result) {
    throw StorageError(fmt::format("{}: malformed {} response: {} at byte {}", where, what,
                                   result.description(), result.offset));
  }
  return document;
}

}  // namespace

S3ErrorBody parse_s3_error(std::string_view body) {
  pugi::xml_document document;
  if (body.empty() || !document.load_buffer(body.data(), body.size())) return {};
  pugi::xml_node error = document.child("Error");
  return {error.child_value("Code"), error.child_value("Message")};
}

ListPage parse_list_page(std::string_view body, const std::string& where) {
  pugi::xml_document document = parse(body, where, "ListObjectsV2");
  pugi::xml_node result = document.child("ListBucketResult");
  if (!result)
    throw StorageError(fmt::format("{}: ListObjectsV2 response has no ListBucketResult", where));
  ListPage page;
  for (pugi::xml_node contents : result.children("Contents")) {
    std::string_view size_text = contents.child_value("Size");
    ObjectInfo info{contents.child_value("Key"), 0};
    auto [end, error] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), info.size);
    if (info.key.empty() || error != std::errc() || end != size_text.data() + size_text.size()) {
      throw StorageError(fmt::format("{}: ListObjectsV2 entry with key \"{}\" has size \"{}\"",
                                     where, info.key, size_text));
    }
    page.objects.push_back(std::move(info));
  }
  page.truncated = std::string_view(result.child_value("IsTruncated")) == "true";
  page.next_continuation_token = result.child_value("NextContinuationToken");
  if (page.truncated && page.next_continuation_token.empty()) {
    throw StorageError(fmt::format(
        "{}: ListObjectsV2 response is truncated but has no NextContinuationToken", where));
  }
  return page;
}

std::string parse_upload_id(std::string_view body, const std::string& where) {
  pugi::xml_document document = parse(body, where, "CreateMultipartUpload");
  std::string id = document.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty())
    throw StorageError(fmt::format("{}: CreateMultipartUpload response has no UploadId", where));
  return id;
}

std::string complete_upload_body(const std::vector<std::string>& part_etags) {
  pugi::xml_document document;
  pugi::xml_node root = document.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (std::size_t i = 0; i < part_etags.size(); ++i) {
    pugi::xml_node part = root.append_child("Part");
    part.append_child("PartNumber").text().set(static_cast<unsigned long long>(i + 1));
    part.append_child("ETag").text().set(part_etags[i].c_str());
  }
  std::ostringstream out;
  document.save(out, "", pugi::format_raw);
  return out.str();
}

}  // namespace tandem::storage
