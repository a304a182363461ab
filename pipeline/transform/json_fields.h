// Reading typed fields out of a JSON document while collecting every error, each naming its
// source and JSON path: `job.json: TransformInput.SplitType: expected one of None, Line,
// RecordIO, TFRecord, got "Lines"`. The nlohmann adapter over proto::FieldErrors
// (tandem/proto/field_errors.h), which pipeline.yaml and the model-file readers share. Internal
// to the transform module (job, manifest and execution-parameter parsers).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/json_path.h"
#include "pipeline/transform/result.h"
#include "tandem/proto/field_errors.h"

namespace tandem::transform {

class JsonFields {
 public:
  explicit JsonFields(std::string source) : errors_(std::move(source)) {}

  // "a.b" + "c" → "a.b.c"; "" + "c" → "c".
  static std::string child(std::string_view path, std::string_view key) {
    return proto::child_path(path, key);
  }
  // How a value is shown after "got": strings quoted, others as compact JSON, cut to 60 chars.
  static std::string show(const Json& value);

  void error(std::string_view path, std::string message) {
    errors_.add(std::string(path), std::move(message));
  }
  // Records `value` as not what was wanted: "expected <what>, got <value shown>".
  void expected(std::string_view path, std::string_view what, const Json& value) {
    error(path, proto::expected(what, show(value)));
  }
  bool has_errors() const { return !errors_.empty(); }
  // All errors, one per line.
  Error to_error() const { return Error{errors_.text()}; }

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
  proto::FieldErrors errors_;
};

// Checks for values given as text (command-line overrides, the answer of a container): the
// error's message is what follows "<where>: ".
Status check_one_of(std::string_view value, std::span<const std::string_view> names);
Status check_integer_range(std::int64_t value, std::int64_t min, std::int64_t max);
// "an integer from 1 to 3600", or "an integer of at least 0" when `max` is INT64_MAX.
std::string integer_range(std::int64_t min, std::int64_t max);

}  // namespace tandem::transform
