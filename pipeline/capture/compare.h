// Comparing a captured answer with a replayed one: CSV field by field and JSON value by value,
// numbers within a tolerance; anything else byte for byte. Pure. The difference found first
// is described with where it is and both answers with that field marked (»like this«).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tandem::capture {

enum class CompareMode { exact, csv, json, json_lines };

// By media type: text/csv; application/json; application/jsonlines (and x-jsonlines);
// anything else exact.
CompareMode compare_mode(std::string_view content_type);

// Whether two numbers are equal within `tolerance`, relative to the larger magnitude and
// absolute below 1: |a - b| <= tolerance * max(1, |a|, |b|).
bool numbers_match(double a, double b, double tolerance);

struct Difference {
  std::string where;     // "$.predictions[0].score", "row 2, field 3", "byte 17", "Content-Type"
  std::string captured;  // the captured answer (or the part of it concerned), field marked
  std::string replayed;  // the same for the replayed answer
};

struct Answer {
  std::string_view content_type;
  std::string_view body;
};

// Nothing when the answers match. The mode comes from the captured content type; when either
// body does not parse in that mode they are compared byte for byte. A captured answer without a
// content type (null in the capture file) matches any content type, and its body is compared
// in the mode of the replayed one. JSON nested deeper than
// proto::json::max_depth is compared byte for byte too, and a difference's `where` says so:
// "byte 3 (captured answer: JSON nested deeper than 512 levels at byte 512; compared byte for
// byte)".
std::optional<Difference> compare_answers(const Answer& captured, const Answer& replayed,
                                          double tolerance);

}  // namespace tandem::capture
