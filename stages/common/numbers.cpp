#include "stages/common/numbers.h"

#include <array>
#include <charconv>
#include <system_error>

namespace tandem::builtin {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

bool is_missing(std::string_view field) {
  field = trim(field);
  if (field.empty()) return true;
  if (field.size() != 3) return false;
  const auto lower = [](char c) { return static_cast<char>(c | 0x20); };
  return lower(field[0]) == 'n' && lower(field[1]) == 'a' && lower(field[2]) == 'n';
}

std::optional<double> parse_number(std::string_view field) {
  field = trim(field);
  // from_chars takes no `+`, which Python's float() and strtod accept; a second sign is wrong.
  if (!field.empty() && field.front() == '+') {
    field.remove_prefix(1);
    if (!field.empty() && (field.front() == '-' || field.front() == '+')) return std::nullopt;
  }
  double value = 0;
  const char* end = field.data() + field.size();
  const auto [stop, error] = std::from_chars(field.data(), end, value);
  if (error != std::errc{} || stop != end || field.empty()) return std::nullopt;
  return value;
}

namespace {

template <typename... Format>
void append_to_chars(std::string& out, auto value, Format... format) {
  std::array<char, 64> buffer;
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, format...);
  out.append(buffer.data(), result.ptr);
}

}  // namespace

void append_shortest(std::string& out, double value) {
  append_to_chars(out, value);
}

void append_shortest(std::string& out, float value) {
  append_to_chars(out, value);
}

void append_decimal(std::string& out, double value) {
  append_to_chars(out, value, std::chars_format::general, 15);
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t limit = 40;
  std::string quoted = "\"";
  quoted.append(text.substr(0, limit));
  if (text.size() > limit) quoted.append("...");
  quoted.push_back('"');
  return quoted;
}

}  // namespace tandem::builtin
