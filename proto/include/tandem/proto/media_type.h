// The media type of a Content-Type (or of one Accept entry): what tandem compares when it
// decides how to read or store a payload. Header-only and dependency-free, so the
// orchestrator (capture, batch transform) and the built-in stages share the one rule.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace tandem::proto {

// What happens to spaces and tabs before the first ';'.
enum class Blanks {
  trim,    // only around the type: "text / csv" stays "text / csv" (the built-in stages)
  remove,  // everywhere: "text / csv" is "text/csv" (capture, batch transform)
};

// The type/subtype of `content_type`, lower-cased, without its parameters:
// "Text/CSV ; charset=utf-8" -> "text/csv". Empty for an empty header.
inline std::string media_type(std::string_view content_type, Blanks blanks) {
  const auto is_blank = [](char c) { return c == ' ' || c == '\t'; };
  std::string_view type = content_type.substr(0, content_type.find(';'));
  if (blanks == Blanks::trim) {
    while (!type.empty() && is_blank(type.front())) type.remove_prefix(1);
    while (!type.empty() && is_blank(type.back())) type.remove_suffix(1);
  }
  std::string media;
  media.reserve(type.size());
  for (const char c : type) {
    if (blanks == Blanks::remove && is_blank(c)) continue;
    media += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return media;
}

}  // namespace tandem::proto
