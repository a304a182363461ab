// Suggests the known word a misspelt one was probably meant to be, for "did you mean" hints
// on unknown keys and enum values. Pure string logic.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tandem::spec {

// Edit distance (insertions, deletions, substitutions), case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`: the smallest edit distance when it is at most 2, else the
// first candidate that `word` is a prefix of (or that is a prefix of `word`), when `word` has
// at least 3 characters. Nothing when no candidate is close.
std::optional<std::string> did_you_mean(std::string_view word,
                                        std::span<const std::string_view> candidates);

// The message for a key that is not in `known`, with a hint when one is close: `unknown key;
// did you mean "timeout_s"?`, else `unknown key; expected one of a, b, c`. pipeline.yaml and
// the batch job's JSON word it the same way.
std::string unknown_key_message(std::string_view key, std::span<const std::string_view> known);

}  // namespace tandem::spec
