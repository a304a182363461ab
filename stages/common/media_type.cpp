#include "stages/common/media_type.h"

#include <fmt/format.h>

#include <vector>

#include "stages/common/numbers.h"
#include "tandem/proto/media_type.h"

namespace tandem::builtin {
namespace {

// "a, b or c"
std::string list_in_words(std::initializer_list<std::string_view> names) {
  std::string words;
  std::size_t i = 0;
  for (const auto name : names) {
    if (i > 0) words += i + 1 == names.size() ? " or " : ", ";
    words += name;
    ++i;
  }
  return words;
}

struct MediaRange {
  std::string type;  // "text/csv", "text/*" or "*/*"
  double q = 1;
  std::size_t position = 0;  // in the Accept header
};

// The q parameter of one Accept entry; an unreadable q counts as 1 rather than refusing.
double quality(std::string_view parameters) {
  std::size_t start = 0;
  while (start < parameters.size()) {
    auto end = parameters.find(';', start);
    if (end == std::string_view::npos) end = parameters.size();
    const auto parameter = trim(parameters.substr(start, end - start));
    if (parameter.size() > 2 && (parameter[0] == 'q' || parameter[0] == 'Q') &&
        parameter[1] == '=') {
      const auto q = parse_number(parameter.substr(2));
      return q && *q >= 0 && *q <= 1 ? *q : 1;
    }
    start = end + 1;
  }
  return 1;
}

std::vector<MediaRange> parse_accept(std::string_view accept) {
  std::vector<MediaRange> ranges;
  std::size_t start = 0;
  while (start <= accept.size()) {
    auto end = accept.find(',', start);
    if (end == std::string_view::npos) end = accept.size();
    const auto entry = accept.substr(start, end - start);
    const auto semicolon = entry.find(';');
    const auto type = proto::media_type(entry, proto::Blanks::trim);
    if (!type.empty()) {
      const double q =
          semicolon == std::string_view::npos ? 1 : quality(entry.substr(semicolon + 1));
      ranges.push_back({type, q, ranges.size()});
    }
    start = end + 1;
  }
  return ranges;
}

// How specifically `range` names `type`: 3 exactly, 2 as type/*, 1 as */*, 0 not at all.
int specificity(const std::string& range, std::string_view type) {
  if (range == type) return 3;
  if (range == "*/*") return 1;
  const auto slash = type.find('/');
  if (range.size() == slash + 2 && range.ends_with("/*") &&
      std::string_view(range).substr(0, slash) == type.substr(0, slash)) {
    return 2;
  }
  return 0;
}

}  // namespace

std::string media_type(std::string_view header) {
  return proto::media_type(header, proto::Blanks::trim);
}

std::string request_media_type(std::string_view content_type, std::string_view fallback) {
  auto type = media_type(content_type);
  return type.empty() ? std::string(fallback) : type;
}

Failure unsupported_content_type(std::string_view content_type,
                                 std::initializer_list<std::string_view> accepted) {
  return Failure::unsupported_media_type(fmt::format("unsupported Content-Type \"{}\": send {}",
                                                     content_type, list_in_words(accepted)));
}

Result<std::string_view> negotiate_accept(std::string_view accept,
                                          std::initializer_list<std::string_view> offered) {
  const auto ranges = parse_accept(accept);
  if (ranges.empty()) return *offered.begin();
  const MediaRange* best_range = nullptr;
  std::string_view best;
  for (const auto type : offered) {
    // The most specific range naming this type decides its q (RFC 9110, 12.5.1).
    const MediaRange* match = nullptr;
    int match_specificity = 0;
    for (const auto& range : ranges) {
      const int s = specificity(range.type, type);
      if (s > match_specificity) {
        match = &range;
        match_specificity = s;
      }
    }
    if (match == nullptr || match->q <= 0) continue;
    if (best_range == nullptr || match->q > best_range->q ||
        (match->q == best_range->q && match->position < best_range->position)) {
      best_range = match;
      best = type;
    }
  }
  if (best_range != nullptr) return best;
  return Failure::not_acceptable(
      fmt::format("unsupported Accept \"{}\": use {}", accept, list_in_words(offered)));
}

}  // namespace tandem::builtin
