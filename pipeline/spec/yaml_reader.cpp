#include "pipeline/spec/yaml_reader.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "pipeline/spec/did_you_mean.h"
#include "pipeline/spec/expand_env.h"

namespace tandem::spec {
namespace {

constexpr std::size_t kMaxQuotedLength = 80;

int one_based(int zero_based) {
  return zero_based >= 0 ? zero_based + 1 : 0;
}

// yaml-cpp marks an empty value at the token after it, often on a later line; the key is
// where the reader looks.
YAML::Mark mark_of(const YAML::Node& key, const YAML::Node& value) {
  if (value.IsNull() || value.Mark().line < 0) return key.Mark();
  return value.Mark();
}

// Where each document of a stream starts; stuck_at() is set once one starts where the previous
// one did.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> stuck_at() const { return stuck_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (last_ && last_->pos == mark.pos) stuck_ = mark;
    last_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  std::optional<YAML::Mark> last_;
  std::optional<YAML::Mark> stuck_;
};

template <typename T>
bool parse_whole(std::string_view text, T& out, std::errc& error) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  error = ec;
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

std::vector<YAML::Node> load_all_documents(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts starts;
  while (!starts.stuck_at() && parser.HandleNextDocument(starts)) {
  }
  if (const auto at = starts.stuck_at()) {
    const auto pos = static_cast<std::size_t>(at->pos);
    throw YAML::ParserException(
        *at, pos < text.size() ? fmt::format("unexpected '{}'", text[pos]) : "unexpected end");
  }
  return YAML::LoadAll(text);  // the same parse, which the scan above showed to end
}

std::string quote(std::string_view text) {
  return fmt::format("\"{}\"", proto::shortened(text, kMaxQuotedLength));
}

void Context::error(const YAML::Mark& at, std::string path, std::string message) {
  errors_.add(std::move(path), std::move(message), one_based(at.line), one_based(at.column));
}

std::vector<SpecError> Context::take_errors() {
  std::vector<SpecError> errors;
  for (proto::FieldError& error : errors_.take()) {
    errors.push_back(SpecError{.file = errors_.source(),
                               .line = error.line,
                               .column = error.column,
                               .path = std::move(error.path),
                               .message = std::move(error.message)});
  }
  // Errors are found in several passes; report them in the order of the document.
  std::stable_sort(errors.begin(), errors.end(), [](const SpecError& a, const SpecError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return errors;
}

Value element(const Value& list, std::size_t index, const YAML::Node& item) {
  const YAML::Mark mark = item.IsNull() || item.Mark().line < 0 ? list.mark : item.Mark();
  return Value{item, mark, proto::element_path(list.path, index)};
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

Fields::Fields(Context& ctx, const Value& map, std::span<const std::string_view> known_keys)
    : ctx_(ctx), self_(map), is_map_(map.node.IsMap()) {
  if (!is_map_) {
    ctx_.error(map.mark, map.path, proto::expected("a map", describe(map.node)));
    return;
  }
  for (auto it = map.node.begin(); it != map.node.end(); ++it) {
    add_entry(it->first, it->second, known_keys);
  }
}

void Fields::add_entry(const YAML::Node& key, const YAML::Node& value,
                       std::span<const std::string_view> known_keys) {
  if (!key.IsScalar()) {
    ctx_.error(key.Mark(), self_.path, proto::expected("a string key", describe(key)));
    return;
  }
  const std::string& name = key.Scalar();
  const std::string path = proto::child_path(self_.path, name);
  const bool known = known_keys.empty() ||
                     std::find(known_keys.begin(), known_keys.end(), name) != known_keys.end();
  if (!known) {
    ctx_.error(key.Mark(), path, unknown_key_message(name, known_keys));
    return;
  }
  // yaml-cpp keeps duplicate keys and answers lookups with the first; say so instead.
  const auto first = std::find_if(entries_.begin(), entries_.end(),
                                  [&](const Entry& entry) { return entry.key == name; });
  if (first != entries_.end()) {
    ctx_.error(
        key.Mark(), path,
        fmt::format("duplicate key; first given on line {}", one_based(first->key_mark.line)));
    return;
  }
  entries_.push_back(Entry{name, key.Mark(), Value{value, mark_of(key, value), path}});
}

std::optional<Value> Fields::get(std::string_view key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) return entry.value;
  }
  return std::nullopt;
}

std::optional<Value> Fields::require(std::string_view key) const {
  auto value = get(key);
  if (!value && is_map_) {
    ctx_.error(self_.mark, proto::child_path(self_.path, key), "required key is missing");
  }
  return value;
}

std::optional<std::string> read_scalar(Context& ctx, const Value& value,
                                       std::string_view expected) {
  if (!value.node.IsScalar()) {
    ctx.error(value.mark, value.path, proto::expected(expected, describe(value.node)));
    return std::nullopt;
  }
  Expansion expanded = expand_env(value.node.Scalar(), ctx.env());
  for (std::string& message : expanded.errors)
    ctx.error(value.mark, value.path, std::move(message));
  if (!expanded.errors.empty()) return std::nullopt;
  // A "\0" escape would silently cut an argument, a variable or a path short.
  if (expanded.text.find('\0') != std::string::npos) {
    ctx.error(value.mark, value.path, "must not contain a NUL character (\\0)");
    return std::nullopt;
  }
  return std::move(expanded.text);
}

std::optional<std::string> read_string(Context& ctx, const Value& value) {
  auto text = read_scalar(ctx, value, "a string");
  if (text && text->empty()) {
    ctx.error(value.mark, value.path, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::int64_t> read_integer(Context& ctx, const Value& value, std::int64_t min,
                                         std::int64_t max) {
  auto text = read_scalar(ctx, value, "an integer");
  if (!text) return std::nullopt;
  std::int64_t number = 0;
  std::errc error{};
  const bool parsed = parse_whole(*text, number, error);
  if (!parsed && error != std::errc::result_out_of_range) {
    ctx.error(value.mark, value.path, proto::expected("an integer", quote(*text)));
    return std::nullopt;
  }
  if (!parsed || number < min || number > max) {
    ctx.error(value.mark, value.path,
              fmt::format("must be between {} and {}, got {}", min, max, *text));
    return std::nullopt;
  }
  return number;
}

std::optional<double> read_number(Context& ctx, const Value& value, const NumberRule& rule) {
  auto text = read_scalar(ctx, value, rule.expected);
  if (!text) return std::nullopt;
  double number = 0;
  std::errc error{};
  const bool parsed = parse_whole(*text, number, error);
  // 1e400 is a number, only not one a double holds: out of range, as read_integer says.
  const bool beyond_a_double = !parsed && error == std::errc::result_out_of_range;
  if ((!parsed && !beyond_a_double) || (parsed && !std::isfinite(number))) {
    ctx.error(value.mark, value.path, proto::expected(rule.expected, quote(*text)));
    return std::nullopt;
  }
  const bool low_ok = rule.allow_zero ? number >= 0 : number > 0;
  if (beyond_a_double || !low_ok || number > rule.max) {
    const std::string_view low = rule.allow_zero ? "between 0 and" : "greater than 0 and at most";
    ctx.error(value.mark, value.path,
              fmt::format("must be {} {} {}, got {}", low, rule.max, rule.unit, *text));
    return std::nullopt;
  }
  return number;
}

std::optional<std::size_t> read_choice(Context& ctx, const Value& value,
                                       std::span<const std::string_view> choices) {
  const std::string expected = fmt::format("one of {}", fmt::join(choices, ", "));
  auto text = read_scalar(ctx, value, expected);
  if (!text) return std::nullopt;
  const auto found = std::find(choices.begin(), choices.end(), *text);
  if (found != choices.end()) return static_cast<std::size_t>(found - choices.begin());
  std::string message = proto::expected(expected, quote(*text));
  if (auto suggestion = did_you_mean(*text, choices)) {
    message += fmt::format("; did you mean \"{}\"?", *suggestion);
  }
  ctx.error(value.mark, value.path, std::move(message));
  return std::nullopt;
}

}  // namespace tandem::spec
