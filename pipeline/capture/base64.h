// Base64 (RFC 4648, standard alphabet, padded), for capture records of content types stored as
// BASE64. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tandem::capture {

std::string base64_encode(std::string_view bytes);
// Nothing when `text` is not padded standard base64 (whitespace is not allowed).
std::optional<std::string> base64_decode(std::string_view text);

// Whether `bytes` is well-formed UTF-8 (what a JSON string can hold as text).
bool is_valid_utf8(std::string_view bytes);

}  // namespace tandem::capture
