// Reading typed fields out of a JSON document while collecting every error, each naming its
// source and JSON path: `job.json: TransformInput.SplitType: expected one of None, Line,
// RecordIO, TFRecord, got "Lines"`. Internal to the transform module (job, manifest and
// execution-parameter parsers).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/json_path.h"
#include "pipeline/transform/result.h"

namespace tandem::transform {

class JsonFields {
 public:
  explicit JsonFields(std::string source) : source_(std::move(source)) {}

  // "a.b" + "c" → "a.b.c"; "" + "c" → "c".
  static std::string child(std::string_view path, std::string_view key);
  // How a value is shown after "got": strings quoted, others as compact JSON, cut to 60 chars.
  static std::string show(const Json& value);

  void error(std::string_view path, std::string_view message);
  bool has_errors() const { return !errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  // All errors, one per line.
  Error to_error() const;

  // Parses `text` (see parse_json in json.h); on failure records the error and returns nothing.
  std::optional<Json> parse(std::string_view text);

  // Reports every key of `object` that is not in `known` (with a did-you-mean hint). False,
  // with an error, when `value` is not an object.
  bool check_object(const Json& value, std::string_view path,
                    std::span<const std::string_view> known);

  // Member readers: nothing, silently, when `key` is absent (unless `required`); nothing,
  // with an error, when it has the wrong type or is out of range.
  std::optional<std::string> string(const Json& object, std::string_view path, std::string_view key,
                                    std::size_t max_length, bool required = false);
  std::optional<std::int64_t> integer(const Json& object, std::string_view path,
                                      std::string_view key, std::int64_t min, std::int64_t max);
  // One of `names`, exactly: `expected one of None, Line, RecordIO, TFRecord, got "Lines"`.
  std::optional<std::string> one_of(const Json& object, std::string_view path, std::string_view key,
                                    std::span<const std::string_view> names, bool required = false);
  // The member itself, or nothing (with an error when `required`).
  const Json* member(const Json& object, std::string_view path, std::string_view key,
                     bool required);

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

// Checks for values given as text (command-line overrides, the answer of a container):
// the message after "<where>: ", or nothing when the value is fine.
std::optional<std::string> check_one_of(std::string_view value,
                                        std::span<const std::string_view> names);
std::optional<std::string> check_integer_range(std::int64_t value, std::int64_t min,
                                               std::int64_t max);
// "an integer from 1 to 3600", or "an integer of at least 0" when `max` is INT64_MAX.
std::string integer_range(std::int64_t min, std::int64_t max);

}  // namespace tandem::transform
