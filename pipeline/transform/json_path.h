// The JSONPath subset of SageMaker's DataProcessing (InputFilter, OutputFilter), parsed once per
// job and evaluated per record.
//
// Syntax, at most 63 characters, starting with `$` (the root):
//   .name          a child of an object (letters, digits, _ - $ @ and non-ASCII bytes)
//   .*  [*]        every child of an object (in its key order) or element of an array
//   ['a','b']      children by name (single or double quotes, `\` escapes the quote or `\`);
//                  `.['a','b']` is accepted as SageMaker's documentation writes it
//   [n,m]          array elements by index; negative counts from the end (-1 is the last)
//   [start:end]    a slice; either side may be omitted; the end is EXCLUSIVE, as in Python
//                  and JavaScript's slice() (SageMaker's operator table cites slice(); its
//                  prose example reads as inclusive: see docs/transform.md). Negative bounds
//                  count from the end; bounds are clamped. A bracket may mix indexes with one
//                  slice (`$[0,5:]`); SageMaker rejects several ranges in one bracket.
// Not supported: `..`, filters `?()`, scripts `()`, slice steps, nested paths in brackets.
//
// Ownership: a JsonPath owns its parsed steps and is immutable after parse(): parse once per
// job, share between threads. evaluate() returns a copy of what it selects.
//
// Results: a path made only of `.name`, `['name']` and single `[n]` is definite and yields
// the selected value itself (`$.features` → that value, `$[0]` → that element). Any other path
// yields a JSON array of the selected values in document order (`$[1:]`, `$[0,-1]`, `$[*]`),
// except a final `['a','b']` on a single object, which yields an object with those keys
// (`$['id','SageMakerOutput']` keeps two attributes, as SageMaker's examples expect). While
// the path is definite, a missing key, an index out of range or a wrong type is an error
// (SageMaker: "indexes that aren't within the dimension size ... you get an error"); after a
// wildcard, slice or union, values without the next step are skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/json.h"
#include "pipeline/transform/result.h"

namespace tandem::transform {

inline constexpr std::size_t kMaxJsonPathLength = 63;

class JsonPath {
 public:
  // Errors read `<name> "<text>": position <N>: <reason>`, N the 0-based offset of the
  // character where parsing stopped (the length of the text when it ended too soon):
  // `InputFilter "$[1:": position 4: expected ']'`.
  static Result<JsonPath> parse(std::string_view text, std::string_view name = "JSONPath");

  // The selection from `root`. Errors name the step: `[5]: index 5 is out of range for an
  // array of 3 elements`.
  Result<Json> evaluate(const Json& root) const;

  bool is_root() const { return segments_.empty(); }  // `$`: the value as it is
  const std::string& text() const { return text_; }

  struct Selector {  // one item of an index bracket: an index, or a slice when is_slice
    bool is_slice = false;
    std::int64_t index = 0;
    std::optional<std::int64_t> start;
    std::optional<std::int64_t> end;
  };
  struct Segment {
    enum class Kind { name, names, wildcard, indexes };
    Kind kind = Kind::name;
    std::vector<std::string> names;
    std::vector<Selector> selectors;
    std::string text;  // as written, for messages
    bool definite() const;
  };

 private:
  friend class JsonPathParser;
  std::string text_;
  std::vector<Segment> segments_;
};

}  // namespace tandem::transform
