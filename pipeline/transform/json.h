// The JSON value type of the transform module and the one way it parses JSON text.
// Objects keep their key order (nlohmann::ordered_json), so records come back as they went in.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "pipeline/transform/result.h"

namespace tandem::transform {

using Json = nlohmann::ordered_json;

// Copying and serialising a value recurse once per nesting level; this bound keeps hostile
// input (a record, a job file) from overflowing the stack.
inline constexpr std::size_t kMaxJsonDepth = 512;

// Errors: "JSON nested deeper than 512 levels", or "not valid JSON: parse error at line 1,
// column 6: syntax error while parsing value - unexpected end of input; ...".
Result<Json> parse_json(std::string_view text);

// What a value is, for error messages: "an object", "an array", "a string", "a boolean",
// "null", "an integer" or "a number".
std::string_view json_type_phrase(const Json& value);

}  // namespace tandem::transform
