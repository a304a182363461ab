#include "pipeline/transform/json_path.h"

#include <fmt/format.h>

#include <cctype>
#include <limits>

namespace tandem::transform {

// A recursive-descent parser over the path text; `pos_` is where it stands.
class JsonPathParser {
 public:
  JsonPathParser(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  Result<JsonPath> parse() {
    JsonPath path;
    path.text_ = std::string(text_);
    if (text_.size() > kMaxJsonPathLength) {
      pos_ = kMaxJsonPathLength;
      return fail(fmt::format("longer than {} characters ({})", kMaxJsonPathLength, text_.size()));
    }
    if (text_.empty() || text_[0] != '$') return fail("expected '$'");
    pos_ = 1;
    while (pos_ < text_.size()) {
      const std::size_t start = pos_;
      JsonPath::Segment segment;
      if (auto error = parse_segment(segment)) return *error;
      segment.text = std::string(text_.substr(start, pos_ - start));
      path.segments_.push_back(std::move(segment));
    }
    return path;
  }

 private:
  using Segment = JsonPath::Segment;

  Error fail(std::string_view reason) const {
    return Error{fmt::format("{} \"{}\": position {}: {}", name_, text_, pos_, reason)};
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_spaces() {
    while (peek() == ' ') ++pos_;
  }
  static bool is_name_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return std::isalnum(byte) != 0 || c == '_' || c == '-' || c == '$' || c == '@' || byte >= 0x80;
  }

  std::optional<Error> parse_segment(Segment& segment) {
    if (peek() == '[') return parse_bracket(segment);
    if (peek() != '.') return fail("expected '.' or '['");
    ++pos_;
    if (peek() == '.') return fail("recursive descent '..' is not supported");
    if (peek() == '[') return parse_bracket(segment);
    if (peek() == '*') {
      ++pos_;
      segment.kind = Segment::Kind::wildcard;
      return std::nullopt;
    }
    const std::size_t start = pos_;
    while (!at_end() && is_name_char(peek())) ++pos_;
    if (pos_ == start) return fail("expected a name, '*' or '[' after '.'");
    segment.kind = Segment::Kind::name;
    segment.names.emplace_back(text_.substr(start, pos_ - start));
    return std::nullopt;
  }

  std::optional<Error> parse_bracket(Segment& segment) {
    ++pos_;  // '['
    skip_spaces();
    std::optional<Error> error;
    if (peek() == '*') {
      ++pos_;
      segment.kind = Segment::Kind::wildcard;
      skip_spaces();
    } else if (peek() == '\'' || peek() == '"') {
      error = parse_names(segment);
    } else if (peek() == '-' || peek() == ':' || std::isdigit(static_cast<unsigned char>(peek()))) {
      error = parse_selectors(segment);
    } else {
      return fail("expected an index, a slice, a quoted name or '*'");
    }
    if (error) return error;
    if (peek() != ']') return fail("expected ']'");
    ++pos_;
    return std::nullopt;
  }

  std::optional<Error> parse_names(Segment& segment) {
    segment.kind = Segment::Kind::names;
    while (true) {
      if (peek() != '\'' && peek() != '"') return fail("expected a quoted name");
      std::string name;
      if (auto error = parse_quoted(name)) return error;
      segment.names.push_back(std::move(name));
      skip_spaces();
      if (peek() != ',') break;
      ++pos_;
      skip_spaces();
    }
    if (segment.names.size() == 1) segment.kind = Segment::Kind::name;
    return std::nullopt;
  }

  std::optional<Error> parse_quoted(std::string& out) {
    const char quote = text_[pos_++];
    while (true) {
      if (at_end()) return fail("unterminated quoted name");
      const char c = text_[pos_++];
      if (c == quote) return std::nullopt;
      if (c == '\\') {
        if (at_end()) return fail("unterminated quoted name");
        out.push_back(text_[pos_++]);
      } else {
        out.push_back(c);
      }
    }
  }

  std::optional<Error> parse_selectors(Segment& segment) {
    segment.kind = Segment::Kind::indexes;
    bool have_slice = false;
    while (true) {
      const std::size_t item_start = pos_;
      JsonPath::Selector selector;
      if (auto error = parse_selector(selector)) return error;
      if (selector.is_slice && have_slice) {
        pos_ = item_start;
        return fail("only one slice per bracket is supported");
      }
      have_slice = have_slice || selector.is_slice;
      segment.selectors.push_back(selector);
      skip_spaces();
      if (peek() != ',') return std::nullopt;
      ++pos_;
      skip_spaces();
    }
  }

  std::optional<Error> parse_selector(JsonPath::Selector& selector) {
    std::optional<std::int64_t> first;
    if (peek() != ':') {
      if (auto error = parse_integer(first)) return error;
    }
    skip_spaces();
    if (peek() != ':') {
      selector.index = *first;
      return std::nullopt;
    }
    ++pos_;
    selector.is_slice = true;
    selector.start = first;
    skip_spaces();
    if (peek() == '-' || std::isdigit(static_cast<unsigned char>(peek()))) {
      if (auto error = parse_integer(selector.end)) return error;
      skip_spaces();
    }
    if (peek() == ':') return fail("slice steps are not supported");
    return std::nullopt;
  }

  std::optional<Error> parse_integer(std::optional<std::int64_t>& out) {
    const bool negative = peek() == '-';
    if (negative) ++pos_;
    if (!std::isdigit(static_cast<unsigned char>(peek()))) return fail("expected a digit");
    std::int64_t value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      const int digit = text_[pos_] - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
        return fail("index too large");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    out = negative ? -value : value;
    return std::nullopt;
  }

  std::string_view text_;
  std::string_view name_;
  std::size_t pos_ = 0;
};

bool JsonPath::Segment::definite() const {
  return kind == Kind::name ||
         (kind == Kind::indexes && selectors.size() == 1 && !selectors.front().is_slice);
}

Result<JsonPath> JsonPath::parse(std::string_view text, std::string_view name) {
  return JsonPathParser(text, name).parse();
}

}  // namespace tandem::transform
