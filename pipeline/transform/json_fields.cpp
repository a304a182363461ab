#include "pipeline/transform/json_fields.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>

#include "pipeline/spec/did_you_mean.h"

namespace tandem::transform {
namespace {

constexpr std::size_t kShownValueLength = 60;

// "one of None, Line, RecordIO, TFRecord"
std::string one_of_names(std::span<const std::string_view> names) {
  return fmt::format("one of {}", fmt::join(names, ", "));
}

}  // namespace

std::string JsonFields::show(const Json& value) {
  return proto::shortened(value.dump(-1, ' ', false, Json::error_handler_t::replace),
                          kShownValueLength);
}

std::optional<Json> JsonFields::parse(std::string_view text) {
  Result<Json> parsed = parse_json(text);
  if (parsed) return std::move(*parsed);
  error("", parsed.error().message);
  return std::nullopt;
}

bool JsonFields::check_object(const Json& value, std::string_view path,
                              std::span<const std::string_view> known) {
  if (!value.is_object()) {
    error(path, proto::expected("an object", json_type_phrase(value)));
    return false;
  }
  for (const auto& item : value.items()) {
    const std::string& key = item.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    error(child(path, key), spec::unknown_key_message(key, known));
  }
  return true;
}

const Json* JsonFields::member(const Json& object, std::string_view path, std::string_view key,
                               bool required) {
  const auto found = object.find(key);
  if (found != object.end()) return &*found;
  if (required) error(child(path, key), "required");
  return nullptr;
}

std::optional<std::string> JsonFields::string(const Json& object, std::string_view path,
                                              std::string_view key, std::size_t max_length,
                                              bool required) {
  const Json* value = member(object, path, key, required);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    expected(child(path, key), "a string", *value);
    return std::nullopt;
  }
  const auto& text = value->get_ref<const std::string&>();
  if (text.size() > max_length) {
    error(child(path, key), fmt::format("longer than {} characters ({})", max_length, text.size()));
    return std::nullopt;
  }
  return text;
}

std::optional<std::int64_t> JsonFields::integer(const Json& object, std::string_view path,
                                                std::string_view key, std::int64_t min,
                                                std::int64_t max) {
  const Json* value = member(object, path, key, false);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_integer()) {
    const bool fits = !value->is_number_unsigned() ||
                      value->get<std::uint64_t>() <= static_cast<std::uint64_t>(max);
    const std::int64_t number = fits ? value->get<std::int64_t>() : max;
    if (fits && check_integer_range(number, min, max)) return number;
  }
  expected(child(path, key), integer_range(min, max), *value);
  return std::nullopt;
}

std::optional<std::string> JsonFields::one_of(const Json& object, std::string_view path,
                                              std::string_view key,
                                              std::span<const std::string_view> names,
                                              bool required) {
  const Json* value = member(object, path, key, required);
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) {
    const auto& text = value->get_ref<const std::string&>();
    if (check_one_of(text, names)) return text;
  }
  expected(child(path, key), one_of_names(names), *value);
  return std::nullopt;
}

Status check_one_of(std::string_view value, std::span<const std::string_view> names) {
  if (std::find(names.begin(), names.end(), value) != names.end()) return Status::success();
  return Error{proto::expected(one_of_names(names), fmt::format("\"{}\"", value))};
}

Status check_integer_range(std::int64_t value, std::int64_t min, std::int64_t max) {
  if (value >= min && value <= max) return Status::success();
  return Error{proto::expected(integer_range(min, max), std::to_string(value))};
}

std::string integer_range(std::int64_t min, std::int64_t max) {
  if (max == std::numeric_limits<std::int64_t>::max()) {
    return fmt::format("an integer of at least {}", min);
  }
  return fmt::format("an integer from {} to {}", min, max);
}

}  // namespace tandem::transform
