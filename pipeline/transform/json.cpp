#include "pipeline/transform/json.h"

#include <fmt/format.h>

#include <algorithm>

namespace tandem::transform {
namespace {

// The deepest nesting of arrays and objects in `text`, counted outside strings; exact for
// valid JSON, and a bound the parser's own error takes over from for anything else.
std::size_t nesting_depth(std::string_view text) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
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
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

std::string_view json_type_phrase(const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::null:
      return "null";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    default:
      return "a number";
  }
}

Result<Json> parse_json(std::string_view text) {
  if (nesting_depth(text) > kMaxJsonDepth) {
    return Error{fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth)};
  }
  try {
    return Json::parse(text);
  } catch (const Json::exception& error) {  // parse_error, and out_of_range for 1e400
    std::string_view what = error.what();
    const std::size_t tag_end = what.find("] ");  // drop "[json.exception.parse_error.101] "
    if (tag_end != std::string_view::npos) what.remove_prefix(tag_end + 2);
    return Error{fmt::format("not valid JSON: {}", what)};
  }
}

}  // namespace tandem::transform
