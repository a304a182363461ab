#include <fmt/format.h>

#include <algorithm>

#include "pipeline/transform/json_path.h"

namespace tandem::transform {
namespace {

using Segment = JsonPath::Segment;
using Nodes = std::vector<const Json*>;

Error step_error(const Segment& segment, std::string_view what) {
  return Error{fmt::format("{}: {}", segment.text, what)};
}

// Python's slice bounds for step 1, clamped to [0, size].
std::pair<std::int64_t, std::int64_t> slice_bounds(const JsonPath::Selector& selector,
                                                   std::int64_t size) {
  auto normalise = [size](std::optional<std::int64_t> bound, std::int64_t fallback) {
    if (!bound) return fallback;
    const std::int64_t value = *bound < 0 ? *bound + size : *bound;
    return std::clamp<std::int64_t>(value, 0, size);
  };
  return {normalise(selector.start, 0), normalise(selector.end, size)};
}

std::optional<Error> select_by_index(const Segment& segment, const Json& node, bool strict,
                                     Nodes& out) {
  if (!node.is_array()) {
    if (!strict) return std::nullopt;
    return step_error(segment, fmt::format("expected an array, got {}", json_type_phrase(node)));
  }
  const auto size = static_cast<std::int64_t>(node.size());
  for (const JsonPath::Selector& selector : segment.selectors) {
    if (selector.is_slice) {
      const auto [start, end] = slice_bounds(selector, size);
      for (std::int64_t i = start; i < end; ++i) out.push_back(&node[static_cast<std::size_t>(i)]);
      continue;
    }
    const std::int64_t index = selector.index < 0 ? selector.index + size : selector.index;
    if (index < 0 || index >= size) {
      if (!strict) continue;
      return step_error(segment, fmt::format("index {} is out of range for an array of {} elements",
                                             selector.index, size));
    }
    out.push_back(&node[static_cast<std::size_t>(index)]);
  }
  return std::nullopt;
}

std::optional<Error> select_by_name(const Segment& segment, const Json& node, bool strict,
                                    Nodes& out) {
  if (!node.is_object()) {
    if (!strict) return std::nullopt;
    return step_error(segment, fmt::format("expected an object, got {}", json_type_phrase(node)));
  }
  for (const std::string& name : segment.names) {
    const auto found = node.find(name);
    if (found == node.end()) {
      if (!strict) continue;
      return step_error(segment, fmt::format("no key \"{}\"", name));
    }
    out.push_back(&*found);
  }
  return std::nullopt;
}

std::optional<Error> select(const Segment& segment, const Json& node, bool strict, Nodes& out) {
  switch (segment.kind) {
    case Segment::Kind::name:
    case Segment::Kind::names:
      return select_by_name(segment, node, strict, out);
    case Segment::Kind::indexes:
      return select_by_index(segment, node, strict, out);
    case Segment::Kind::wildcard:
      break;
  }
  if (node.is_object() || node.is_array()) {
    for (const Json& child : node) out.push_back(&child);
    return std::nullopt;
  }
  if (!strict) return std::nullopt;
  return step_error(segment,
                    fmt::format("expected an object or an array, got {}", json_type_phrase(node)));
}

// A final ['a','b'] on one object keeps those keys, in the order the path names them.
Result<Json> pick_keys(const Segment& segment, const Json& node) {
  Nodes values;
  if (auto error = select_by_name(segment, node, true, values)) return *error;
  Json picked = Json::object();
  for (std::size_t i = 0; i < values.size(); ++i) picked[segment.names[i]] = *values[i];
  return picked;
}

}  // namespace

Result<Json> JsonPath::evaluate(const Json& root) const {
  Nodes nodes{&root};
  bool definite = true;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const Segment& segment = segments_[i];
    const bool last = i + 1 == segments_.size();
    if (last && definite && segment.kind == Segment::Kind::names) {
      return pick_keys(segment, *nodes.front());
    }
    Nodes next;
    for (const Json* node : nodes) {
      if (auto error = select(segment, *node, definite, next)) return *error;
    }
    definite = definite && segment.definite();
    nodes = std::move(next);
  }
  if (definite) return *nodes.front();  // a definite path errs rather than select nothing
  Json selected = Json::array();
  for (const Json* node : nodes) selected.push_back(*node);
  return selected;
}

}  // namespace tandem::transform
