#include "pipeline/transform/manifest.h"

#include <array>

#include "pipeline/transform/json_fields.h"

namespace tandem::transform {
namespace {

constexpr std::array<std::string_view, 1> kPrefixKeys{"prefix"};

std::optional<std::string> read_prefix(JsonFields& fields, const Json& first) {
  if (!first.is_object()) {
    fields.expected("[0]", "{\"prefix\": \"s3://bucket/prefix/\"}", first);
    return std::nullopt;
  }
  if (!fields.check_object(first, "[0]", kPrefixKeys)) return std::nullopt;
  std::optional<std::string> prefix = fields.string(first, "[0]", "prefix", 1024, true);
  if (prefix && prefix->empty()) {
    fields.error("[0].prefix", "must not be empty");
    return std::nullopt;
  }
  return prefix;
}

}  // namespace

Result<std::vector<ManifestEntry>> parse_manifest(std::string_view json_text,
                                                  std::string_view source) {
  JsonFields fields{std::string(source)};
  const std::optional<Json> root = fields.parse(json_text);
  if (!root) return fields.to_error();
  if (!root->is_array() || root->empty()) {
    fields.expected("", "an array starting with {\"prefix\": ...}", *root);
    return fields.to_error();
  }
  const std::optional<std::string> prefix = read_prefix(fields, root->front());
  std::vector<ManifestEntry> entries;
  for (std::size_t i = 1; i < root->size(); ++i) {
    const Json& entry = (*root)[i];
    const std::string where = proto::element_path("", i);
    if (!entry.is_string()) {
      fields.expected(where, "a string (a key relative to the prefix)", entry);
      continue;
    }
    const auto& relative = entry.get_ref<const std::string&>();
    if (relative.empty()) {
      fields.error(where, "must not be empty");
      continue;
    }
    if (prefix) entries.push_back({*prefix + relative, relative, i});
  }
  if (fields.has_errors()) return fields.to_error();
  return entries;
}

}  // namespace tandem::transform
