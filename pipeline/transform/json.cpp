#include "pipeline/transform/json.h"

#include <fmt/format.h>

#include "tandem/proto/json_depth.h"

namespace tandem::transform {

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
  if (proto::json::too_deep_at(text, kMaxJsonDepth)) {
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
