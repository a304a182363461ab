// Helpers for walking a yaml-cpp tree by hand while collecting every error with its file,
// line, column and key path: the yaml-cpp adapter over proto::FieldErrors
// (tandem/proto/field_errors.h), which the batch-job and model-file readers share. Internal to
// the spec module.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/spec/spec.h"
#include "tandem/proto/field_errors.h"

namespace tandem::spec {

// The state of one load: where errors go and where ${VAR} values come from.
class Context {
 public:
  Context(std::string file, EnvLookup env) : errors_(std::move(file)), env_(env) {}

  void error(const YAML::Mark& at, std::string path, std::string message);
  EnvLookup env() const { return env_; }
  std::vector<SpecError> take_errors();

 private:
  proto::FieldErrors errors_;
  EnvLookup env_;
};

// The documents of a YAML stream, as YAML::LoadAll gives them. yaml-cpp 0.7's LoadAll never
// returns on a token no node can start with (a stream starting with ",", yaml-cpp issue 1040):
// its parser reports an empty document there without consuming the token, forever. This throws
// YAML::ParserException at that token instead.
std::vector<YAML::Node> load_all_documents(const std::string& text);

// A node with its key path and the position errors about it should point at.
struct Value {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};

// Element `index` of the sequence `list`.
Value element(const Value& list, std::size_t index, const YAML::Node& item);
// `text` in double quotes, cut short when long, for messages.
std::string quote(std::string_view text);
// What a node is, for "got ..." in messages: the quoted scalar, "a list", "a map" or "null".
std::string describe(const YAML::Node& node);

// The entries of a map node, checked on construction for unknown and duplicate keys (any key
// is known when `known_keys` is empty). When the node is not a map, an error is recorded and
// the fields are empty.
class Fields {
 public:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    Value value;
  };

  Fields(Context& ctx, const Value& map, std::span<const std::string_view> known_keys);

  bool is_map() const { return is_map_; }
  const Value& self() const { return self_; }
  std::optional<Value> get(std::string_view key) const;
  // Like get(), recording "required key is missing" when absent.
  std::optional<Value> require(std::string_view key) const;
  // Every entry in document order, first occurrence of each key only.
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  void add_entry(const YAML::Node& key, const YAML::Node& value,
                 std::span<const std::string_view> known_keys);

  Context& ctx_;
  Value self_;
  bool is_map_ = false;
  std::vector<Entry> entries_;
};

// Readers of one value. Each returns nothing after recording an error.

// A scalar with ${VAR} expanded; `expected` names what was wanted in the type error.
std::optional<std::string> read_scalar(Context& ctx, const Value& value, std::string_view expected);
// A non-empty string.
std::optional<std::string> read_string(Context& ctx, const Value& value);
std::optional<std::int64_t> read_integer(Context& ctx, const Value& value, std::int64_t min,
                                         std::int64_t max);

// A (possibly fractional) number with 0 < x <= max, or 0 <= x <= max when zero is allowed.
struct NumberRule {
  std::string_view expected;  // e.g. "a positive number of seconds"
  std::string_view unit;      // e.g. "seconds"
  bool allow_zero = false;
  double max = 0;
};
std::optional<double> read_number(Context& ctx, const Value& value, const NumberRule& rule);

// The index of the value in `choices`.
std::optional<std::size_t> read_choice(Context& ctx, const Value& value,
                                       std::span<const std::string_view> choices);

}  // namespace tandem::spec
