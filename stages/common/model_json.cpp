#include "stages/common/model_json.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tandem::builtin {
namespace {

// How much of a value a message quotes.
constexpr std::size_t kShownValueLength = 40;

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) {
    if (!text.empty()) text += '\n';
    text += line;
  }
  return text;
}

}  // namespace

ModelFileError::ModelFileError(std::vector<std::string> lines)
    : std::runtime_error(join_lines(lines)), lines_(std::move(lines)) {}

nlohmann::json read_json_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ModelFileError({fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno))});
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ModelFileError({fmt::format("{}: cannot read: {}", file.string(), std::strerror(errno))});
  }
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& error) {  // also out_of_range (1e400)
    throw ModelFileError(
        {fmt::format("{}: invalid JSON: {}", file.string(), json_error_message(error.what()))});
  }
}

// The prefix names nlohmann's exception class: noise for whoever reads the message.
std::string json_error_message(std::string_view what) {
  if (what.starts_with("[json.exception.")) {
    const auto end = what.find("] ");
    if (end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  return std::string(what);
}

std::string describe_json(const nlohmann::json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return proto::shortened(value.dump(), kShownValueLength);
}

const nlohmann::json* ModelJsonChecker::member(const nlohmann::json& object, std::string_view path,
                                               std::string_view key, bool required) {
  const auto found = object.find(key);
  if (found != object.end()) return &*found;
  if (required) report(json_path(path, key), "missing");
  return nullptr;
}

void ModelJsonChecker::reject_unknown_keys(const nlohmann::json& object, std::string_view path,
                                           std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    bool is_known = false;
    for (const auto name : known) is_known = is_known || key == name;
    if (!is_known) {
      report(json_path(path, key),
             fmt::format("unknown key (expected {})", fmt::join(known, ", ")));
    }
  }
}

bool ModelJsonChecker::is_object(const nlohmann::json& value, std::string_view path) {
  if (value.is_object()) return true;
  report_expected(path, "an object", value);
  return false;
}

bool ModelJsonChecker::is_array(const nlohmann::json& value, std::string_view path) {
  if (value.is_array()) return true;
  report_expected(path, "an array", value);
  return false;
}

std::optional<std::string> ModelJsonChecker::string(const nlohmann::json& value,
                                                    std::string_view path) {
  if (value.is_string()) return value.get<std::string>();
  report_expected(path, "a string", value);
  return std::nullopt;
}

std::optional<double> ModelJsonChecker::number(const nlohmann::json& value, std::string_view path) {
  if (value.is_number()) return value.get<double>();
  report_expected(path, "a number", value);
  return std::nullopt;
}

std::optional<std::size_t> ModelJsonChecker::whole_number(const nlohmann::json& value,
                                                          std::string_view path, std::size_t min,
                                                          std::size_t max) {
  if (value.is_number()) {
    const double number = value.get<double>();
    if (std::floor(number) == number && number >= static_cast<double>(min) &&
        number <= static_cast<double>(max)) {
      return static_cast<std::size_t>(number);
    }
  }
  report_expected(path, fmt::format("a whole number from {} to {}", min, max), value);
  return std::nullopt;
}

std::optional<std::vector<double>> ModelJsonChecker::numbers(const nlohmann::json& value,
                                                             std::string_view path,
                                                             std::size_t count) {
  if (!is_array(value, path)) return std::nullopt;
  if (value.size() != count) {
    report(path, proto::expected(fmt::format("{} value{}", count, count == 1 ? "" : "s"),
                                 std::to_string(value.size())));
    return std::nullopt;
  }
  std::vector<double> result;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (auto number = this->number(value[i], json_path(path, i))) result.push_back(*number);
  }
  if (result.size() != count) return std::nullopt;
  return result;
}

void ModelJsonChecker::finish() const {
  if (!errors_.empty()) throw ModelFileError(errors_.lines());
}

}  // namespace tandem::builtin
