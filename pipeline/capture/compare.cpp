#include "pipeline/capture/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "pipeline/capture/record.h"
#include "pipeline/transform/csv.h"
#include "tandem/proto/json_depth.h"

namespace tandem::capture {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kShownBytes = 300;
constexpr char kOpen[] = "»";
constexpr char kClose[] = "«";

// Printable text: control bytes and bytes of invalid UTF-8 as \xNN.
std::string printable(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\n') {
      out += fmt::format("\\x{:02x}", u);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `text` cut to about kShownBytes around [begin, end), with that span marked.
std::string mark(std::string_view text, std::size_t begin, std::size_t end) {
  begin = std::min(begin, text.size());
  end = std::clamp(end, begin, text.size());
  const std::size_t from = begin > kShownBytes / 2 ? begin - kShownBytes / 2 : 0;
  const std::size_t to = std::min(text.size(), std::max(end, from + kShownBytes));
  std::string out = from > 0 ? "..." : "";
  out += printable(text.substr(from, begin - from));
  out += kOpen;
  out += printable(text.substr(begin, end - begin));
  out += kClose;
  out += printable(text.substr(end, to - end));
  if (to < text.size()) out += "...";
  return out;
}

std::string shown(std::string_view text) {
  if (text.size() <= kShownBytes) return printable(text);
  return printable(text.substr(0, kShownBytes)) + "...";
}

std::optional<double> number(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  if (text.starts_with('+')) text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

bool fields_match(std::string_view a, std::string_view b, double tolerance) {
  if (a == b) return true;
  const auto x = number(a);
  const auto y = number(b);
  return x && y && numbers_match(*x, *y, tolerance);
}

// Lines without their breaks; a last empty line (the text's final break) is not a line.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// Where a line starts in `text`, for marking.
std::size_t offset_in(std::string_view text, std::string_view part) {
  return static_cast<std::size_t>(part.data() - text.data());
}

std::optional<Difference> missing_line(std::string_view captured, std::string_view replayed,
                                       const std::vector<std::string_view>& a,
                                       const std::vector<std::string_view>& b,
                                       std::string_view unit) {
  const std::size_t row = std::min(a.size(), b.size());
  Difference d{fmt::format("{} {}", unit, row + 1), "", ""};
  d.captured = row < a.size() ? mark(captured, offset_in(captured, a[row]),
                                     offset_in(captured, a[row]) + a[row].size())
                              : shown(captured) + kOpen + "(no " + std::string(unit) + ")" + kClose;
  d.replayed = row < b.size() ? mark(replayed, offset_in(replayed, b[row]),
                                     offset_in(replayed, b[row]) + b[row].size())
                              : shown(replayed) + kOpen + "(no " + std::string(unit) + ")" + kClose;
  return d;
}

std::optional<std::optional<Difference>> compare_csv(std::string_view captured,
                                                     std::string_view replayed, double tolerance) {
  const auto a = lines_of(captured);
  const auto b = lines_of(replayed);
  for (std::size_t row = 0; row < std::min(a.size(), b.size()); ++row) {
    auto fa = transform::split_csv_record(a[row]);
    auto fb = transform::split_csv_record(b[row]);
    if (!fa || !fb) return std::nullopt;
    for (std::size_t field = 0; field < std::max(fa->size(), fb->size()); ++field) {
      const bool in_a = field < fa->size();
      const bool in_b = field < fb->size();
      if (in_a && in_b && fields_match((*fa)[field], (*fb)[field], tolerance)) continue;
      Difference d{fmt::format("row {}, field {}", row + 1, field + 1), "", ""};
      auto marked = [&](std::string_view text, std::string_view line,
                        const std::vector<std::string_view>& fields, bool present) {
        if (!present)
          return printable(line) + std::string(kOpen) + "(no field)" + std::string(kClose);
        const std::size_t begin = offset_in(text, fields[field]);
        return mark(text, begin, begin + fields[field].size());
      };
      d.captured = marked(captured, a[row], *fa, in_a);
      d.replayed = marked(replayed, b[row], *fb, in_b);
      return std::optional<Difference>(std::move(d));
    }
  }
  if (a.size() != b.size()) return missing_line(captured, replayed, a, b, "row");
  return std::optional<Difference>();
}

// JSON values: the path of the first difference, or nothing.
std::optional<std::string> json_difference(const Json& a, const Json& b, const std::string& path,
                                           double tolerance, Json::json_pointer& pointer) {
  if (a.is_number() && b.is_number()) {
    if (numbers_match(a.get<double>(), b.get<double>(), tolerance)) return std::nullopt;
    return path;
  }
  if (a.type() != b.type()) return path;
  if (a.is_object()) {
    for (const auto& [key, value] : a.items()) {
      pointer.push_back(key);
      const std::string child = path + "." + key;
      if (!b.contains(key)) return child;
      if (auto d = json_difference(value, b.at(key), child, tolerance, pointer)) return d;
      pointer.pop_back();
    }
    for (const auto& [key, value] : b.items()) {
      if (!a.contains(key)) {
        pointer.push_back(key);
        return path + "." + key;
      }
    }
    return std::nullopt;
  }
  if (a.is_array()) {
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      pointer.push_back(std::to_string(i));
      const std::string child = fmt::format("{}[{}]", path, i);
      if (i >= a.size() || i >= b.size()) return child;
      if (auto d = json_difference(a[i], b[i], child, tolerance, pointer)) return d;
      pointer.pop_back();
    }
    return std::nullopt;
  }
  if (a == b) return std::nullopt;
  return path;
}

// The document with the value at `pointer` marked, serialised compactly.
std::string mark_json(Json document, const Json::json_pointer& pointer) {
  constexpr std::string_view kSentinel = "\x01tandem-mark\x01";
  std::string marked_value = "(absent)";
  if (document.contains(pointer)) {
    marked_value = document.at(pointer).dump();
    document.at(pointer) = std::string(kSentinel);
  } else if (!pointer.empty() && document.contains(pointer.parent_pointer())) {
    return shown(document.dump()) + std::string(kOpen) + "(absent)" + std::string(kClose);
  }
  std::string text = document.dump(-1, ' ', false, Json::error_handler_t::replace);
  const std::string quoted = Json(std::string(kSentinel)).dump();
  const auto at = text.find(quoted);
  if (at == std::string::npos) return shown(text);
  text.replace(at, quoted.size(), marked_value);
  return mark(text, at, at + marked_value.size());
}

// A body as JSON; nothing when it is not JSON, or nests too deep to compare value by value
// (comparing, copying and printing a value recurse once per level), which `too_deep` then says.
std::optional<Json> parse(std::string_view text, std::string_view which, std::string& too_deep) {
  if (const auto at = proto::json::too_deep_at(text)) {
    if (too_deep.empty())
      too_deep = fmt::format("{} answer: {}", which, proto::json::too_deep_message(*at));
    return std::nullopt;
  }
  auto json = Json::parse(text, nullptr, false);
  if (json.is_discarded()) return std::nullopt;
  return json;
}

std::optional<std::optional<Difference>> compare_json(std::string_view captured,
                                                      std::string_view replayed, double tolerance,
                                                      std::string_view prefix,
                                                      std::string& too_deep) {
  auto a = parse(captured, fmt::format("{}captured", prefix), too_deep);
  auto b = parse(replayed, fmt::format("{}replayed", prefix), too_deep);
  if (!a || !b) return std::nullopt;
  Json::json_pointer pointer;
  auto where = json_difference(*a, *b, "$", tolerance, pointer);
  if (!where) return std::optional<Difference>();
  return std::optional<Difference>(
      Difference{std::string(prefix) + *where, mark_json(*a, pointer), mark_json(*b, pointer)});
}

std::optional<std::optional<Difference>> compare_json_lines(std::string_view captured,
                                                            std::string_view replayed,
                                                            double tolerance,
                                                            std::string& too_deep) {
  const auto a = lines_of(captured);
  const auto b = lines_of(replayed);
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    auto d = compare_json(a[i], b[i], tolerance, fmt::format("line {}: ", i + 1), too_deep);
    if (!d) return std::nullopt;
    if (*d) return d;
  }
  if (a.size() != b.size()) return missing_line(captured, replayed, a, b, "line");
  return std::optional<Difference>();
}

std::optional<Difference> compare_bytes(std::string_view a, std::string_view b) {
  if (a == b) return std::nullopt;
  const auto [at, _] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  const auto offset = static_cast<std::size_t>(at - a.begin());
  return Difference{fmt::format("byte {}", offset), mark(a, offset, offset + 1),
                    mark(b, offset, offset + 1)};
}

}  // namespace

CompareMode compare_mode(std::string_view content_type) {
  const std::string media = media_type(content_type);
  if (media == "text/csv") return CompareMode::csv;
  if (media == "application/json") return CompareMode::json;
  if (media == "application/jsonlines" || media == "application/x-jsonlines" ||
      media == "application/jsonl")
    return CompareMode::json_lines;
  return CompareMode::exact;
}

bool numbers_match(double a, double b, double tolerance) {
  if (a == b) return true;
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  const double scale = std::max({1.0, std::fabs(a), std::fabs(b)});
  return std::fabs(a - b) <= tolerance * scale;
}

std::optional<Difference> compare_answers(const Answer& captured, const Answer& replayed,
                                          double tolerance) {
  const bool captured_type = !media_type(captured.content_type).empty();
  if (captured_type && media_type(captured.content_type) != media_type(replayed.content_type)) {
    return Difference{
        "Content-Type",
        std::string(kOpen) + std::string(captured.content_type) + std::string(kClose),
        std::string(kOpen) + std::string(replayed.content_type) + std::string(kClose)};
  }
  std::optional<std::optional<Difference>> found;
  std::string too_deep;  // why JSON was compared byte for byte, if it nests too deep
  switch (compare_mode(captured_type ? captured.content_type : replayed.content_type)) {
    case CompareMode::csv:
      found = compare_csv(captured.body, replayed.body, tolerance);
      break;
    case CompareMode::json:
      found = compare_json(captured.body, replayed.body, tolerance, "", too_deep);
      break;
    case CompareMode::json_lines:
      found = compare_json_lines(captured.body, replayed.body, tolerance, too_deep);
      break;
    case CompareMode::exact:
      break;
  }
  if (found) return std::move(*found);
  auto difference = compare_bytes(captured.body, replayed.body);
  if (difference && !too_deep.empty())
    difference->where += fmt::format(" ({}; compared byte for byte)", too_deep);
  return difference;
}

}  // namespace tandem::capture
