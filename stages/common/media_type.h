// Content-Type and Accept handling shared by the built-in stages.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "stages/common/result.h"

namespace tandem::builtin {

// The type/subtype of a Content-Type header, lower-cased and without parameters:
// "Text/CSV; charset=utf-8" -> "text/csv". Spaces are trimmed around it only
// (proto::media_type with Blanks::trim; capture and batch transform remove them all).
std::string media_type(std::string_view header);

// The type a stage reads a request as: the media type of `content_type`, or `fallback` when the
// header is absent (SageMaker's XGBoost container reads a request without one as text/csv).
std::string request_media_type(std::string_view content_type, std::string_view fallback);

// The 415 for a Content-Type the stage does not read, naming the ones it does.
Failure unsupported_content_type(std::string_view content_type,
                                 std::initializer_list<std::string_view> accepted);

// Picks what to answer from `offered` (the stage's default first) for an Accept header:
// the offered type whose best matching range (exact, then type/*, then */*) has the highest
// q; among equals, the one the client listed first, then the stage's order. An empty Accept
// takes the default. A 406 naming the offered types when nothing matches with q > 0.
Result<std::string_view> negotiate_accept(std::string_view accept,
                                          std::initializer_list<std::string_view> offered);

}  // namespace tandem::builtin
