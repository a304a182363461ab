#include "pipeline/spec/did_you_mean.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace tandem::spec {
namespace {

constexpr std::size_t kMaxDistance = 2;
constexpr std::size_t kMinPrefix = 3;

bool same_letter(char a, char b) {
  return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return prefix.size() <= text.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), same_letter);
}

std::optional<std::string> closest_by_distance(std::string_view word,
                                               std::span<const std::string_view> candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = kMaxDistance + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(candidate);
    }
  }
  return best;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Two rows of the Wagner-Fischer table are enough.
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (same_letter(a[i - 1], b[j - 1]) ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> did_you_mean(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  if (auto best = closest_by_distance(word, candidates)) return best;
  if (word.size() < kMinPrefix) return std::nullopt;
  for (std::string_view candidate : candidates) {
    if (starts_with(candidate, word) || starts_with(word, candidate)) return std::string(candidate);
  }
  return std::nullopt;
}

std::string unknown_key_message(std::string_view key, std::span<const std::string_view> known) {
  if (auto suggestion = did_you_mean(key, known)) {
    return fmt::format("unknown key; did you mean \"{}\"?", *suggestion);
  }
  return fmt::format("unknown key; expected one of {}", fmt::join(known, ", "));
}

}  // namespace tandem::spec
