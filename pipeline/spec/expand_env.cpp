#include "pipeline/spec/expand_env.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>

namespace tandem::spec {
namespace {

constexpr std::string_view kDefaultSeparator = ":-";

bool is_name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::optional<std::string> lookup(EnvLookup env, const std::string& name) {
  if (env == nullptr) return std::nullopt;
  return env(name);
}

// Expands the body of one ${...} reference (the text between the braces).
std::string expand_reference(std::string_view body, EnvLookup env,
                             std::vector<std::string>& errors) {
  const std::size_t separator = body.find(kDefaultSeparator);
  const std::string name(body.substr(0, separator));
  if (!is_env_name(name)) {
    errors.push_back(fmt::format(
        "invalid variable name \"{}\" in \"${{{}}}\": use letters, digits and underscores, not "
        "starting with a digit",
        name, body));
    return {};
  }
  std::optional<std::string> value = lookup(env, name);
  if (separator != std::string_view::npos) {
    if (value && !value->empty()) return *value;
    return std::string(body.substr(separator + kDefaultSeparator.size()));
  }
  if (!value) {
    errors.push_back(fmt::format(
        "environment variable {0} is not set and has no default (write ${{{0}:-value}} to give "
        "one)",
        name));
    return {};
  }
  return *value;
}

}  // namespace

bool is_env_name(std::string_view name) {
  if (name.empty() || !is_name_start(name.front())) return false;
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

Expansion expand_env(std::string_view text, EnvLookup env) {
  Expansion result;
  std::size_t i = 0;
  while (i < text.size()) {
    const bool reference = text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{';
    if (!reference) {
      result.text.push_back(text[i]);
      // "$$" stands for one literal '$'.
      i += (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') ? 2 : 1;
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      result.errors.push_back(fmt::format(
          "unterminated \"${{\" at character {} of \"{}\"; close it with \"}}\"", i + 1, text));
      break;
    }
    result.text += expand_reference(text.substr(i + 2, close - i - 2), env, result.errors);
    i = close + 1;
  }
  return result;
}

}  // namespace tandem::spec
