// A depth bound on JSON text from outside (capture files, stages' answers, credentials
// responses), checked before any parser sees it. nlohmann's parser and destructor do not
// recurse, but copying, comparing and serialising a value do, once per nesting level, and so
// does any code that walks one: 20,000 levels (40 KB of "[") overflow the stack. A value that
// passed this check can be copied, compared and dumped safely.
//
// Header-only and standard C++ apart from parse_bounded's nlohmann template, so every module can
// use it without linking anything.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::proto::json {

// Deep enough for any document a person or a model writes; shallow enough for the stack.
inline constexpr std::size_t max_depth = 512;

// The byte offset of the first '[' or '{' that opens level `limit + 1`, counted outside
// strings, or nothing when the text nests no deeper than `limit`. Linear and allocation-free;
// exact for valid JSON and a bound for anything else (the parser then reports what is wrong).
inline std::optional<std::size_t> too_deep_at(std::string_view text,
                                              std::size_t limit = max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

// "JSON nested deeper than 512 levels at byte 512".
inline std::string too_deep_message(std::size_t offset, std::size_t limit = max_depth) {
  return "JSON nested deeper than " + std::to_string(limit) + " levels at byte " +
         std::to_string(offset);
}

// `text` parsed by nlohmann (Json: nlohmann::json or ordered_json) when it nests no deeper than
// `limit` and is valid JSON; otherwise a discarded value, with `error` saying why and where:
// "JSON nested deeper than 512 levels at byte 512", or "not valid JSON: parse error at line
// 1, column 6: syntax error while parsing value - unexpected end of input; ...". Never throws
// on the text (1e400 is "not valid JSON: number overflow ...").
template <class Json>
Json parse_bounded(std::string_view text, std::string& error, std::size_t limit = max_depth) {
  if (const auto at = too_deep_at(text, limit)) {
    error = too_deep_message(*at, limit);
    return Json(Json::value_t::discarded);
  }
  try {
    return Json::parse(text);
  } catch (const typename Json::exception& e) {  // parse_error, and out_of_range for 1e400
    std::string_view what = e.what();
    const std::size_t tag_end = what.find("] ");  // drop "[json.exception.parse_error.101] "
    if (tag_end != std::string_view::npos) what.remove_prefix(tag_end + 2);
    error = "not valid JSON: " + std::string(what);
    return Json(Json::value_t::discarded);
  }
}

}  // namespace tandem::proto::json
