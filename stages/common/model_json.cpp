#include "stages/common/model_json.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tandem::builtin {
namespace {

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

std::string json_path(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string json_path(std::string_view path, std::size_t index) {
  return fmt::format("{}[{}]", path, index);
}

std::string describe_json(const nlohmann::json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return text;
}

void ModelJsonChecker::report(std::string_view path, std::string_view message) {
  lines_.push_back(path.empty() ? fmt::format("{}: {}", file_, message)
                                : fmt::format("{}: {}: {}", file_, path, message));
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
  report(path, fmt::format("expected an object, got {}", describe_json(value)));
  return false;
}

bool ModelJsonChecker::is_array(const nlohmann::json& value, std::string_view path) {
  if (value.is_array()) return true;
  report(path, fmt::format("expected an array, got {}", describe_json(value)));
  return false;
}

std::optional<std::string> ModelJsonChecker::string(const nlohmann::json& value,
                                                    std::string_view path) {
  if (value.is_string()) return value.get<std::string>();
  report(path, fmt::format("expected a string, got {}", describe_json(value)));
  return std::nullopt;
}

std::optional<double> ModelJsonChecker::number(const nlohmann::json& value, std::string_view path) {
  if (value.is_number()) return value.get<double>();
  report(path, fmt::format("expected a number, got {}", describe_json(value)));
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
  report(path, fmt::format("expected a whole number from {} to {}, got {}", min, max,
                           describe_json(value)));
  return std::nullopt;
}

std::optional<std::vector<double>> ModelJsonChecker::numbers(const nlohmann::json& value,
                                                             std::string_view path,
                                                             std::size_t count) {
  if (!is_array(value, path)) return std::nullopt;
  if (value.size() != count) {
    report(path,
           fmt::format("expected {} value{}, got {}", count, count == 1 ? "" : "s", value.size()));
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
  if (!lines_.empty()) throw ModelFileError(lines_);
}

}  // namespace tandem::builtin
