// Reading a stage's JSON model file (featurize.json, postprocess.json) at start-up: every
// problem is collected with its JSON path before the stage fails, so one run of the exporter
// can fix them all. ModelJsonChecker is the nlohmann adapter over proto::FieldErrors
// (tandem/proto/field_errors.h), which the orchestrator's pipeline.yaml and batch-job readers
// share.
#pragma once

#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/proto/field_errors.h"

namespace tandem::builtin {

// Thrown once a model file has been read through: what() holds one line per problem, each
// "<file>: <json path>: <what is wrong>".
class ModelFileError : public std::runtime_error {
 public:
  explicit ModelFileError(std::vector<std::string> lines);
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

// Reads and parses `file`; throws ModelFileError when it cannot be read or is not JSON.
nlohmann::json read_json_file(const std::filesystem::path& file);

// "key" under "path": "transformers[1]" + "steps" -> "transformers[1].steps".
inline std::string json_path(std::string_view path, std::string_view key) {
  return proto::child_path(path, key);
}
// "labels" + 2 -> "labels[2]".
inline std::string json_path(std::string_view path, std::size_t index) {
  return proto::element_path(path, index);
}

// An nlohmann exception's what() without its "[json.exception.parse_error.101] " prefix.
std::string json_error_message(std::string_view what);

// Describes a JSON value for a message: strings quoted, numbers as written, "an array", ...
std::string describe_json(const nlohmann::json& value);

// Typed access to a model file's JSON that reports what is wrong instead of throwing; each
// getter returns nothing after reporting. Call finish() last: it throws ModelFileError with
// everything reported.
class ModelJsonChecker {
 public:
  explicit ModelJsonChecker(std::string file) : errors_(std::move(file)) {}

  void report(std::string_view path, std::string message) {
    errors_.add(std::string(path), std::move(message));
  }
  // Reports `value` as not what was wanted: "expected <what>, got <value described>".
  void report_expected(std::string_view path, std::string_view what, const nlohmann::json& value) {
    report(path, proto::expected(what, describe_json(value)));
  }

  // The member `key` of `object` (at `path`), or nothing; reports it when `required`.
  const nlohmann::json* member(const nlohmann::json& object, std::string_view path,
                               std::string_view key, bool required);
  // Reports every key of `object` that is not in `known`.
  void reject_unknown_keys(const nlohmann::json& object, std::string_view path,
                           std::initializer_list<std::string_view> known);

  bool is_object(const nlohmann::json& value, std::string_view path);
  bool is_array(const nlohmann::json& value, std::string_view path);
  std::optional<std::string> string(const nlohmann::json& value, std::string_view path);
  std::optional<double> number(const nlohmann::json& value, std::string_view path);
  // A whole number in [min, max].
  std::optional<std::size_t> whole_number(const nlohmann::json& value, std::string_view path,
                                          std::size_t min, std::size_t max);
  // An array of exactly `count` numbers.
  std::optional<std::vector<double>> numbers(const nlohmann::json& value, std::string_view path,
                                             std::size_t count);

  bool failed() const { return !errors_.empty(); }
  void finish() const;

 private:
  proto::FieldErrors errors_;
};

}  // namespace tandem::builtin
