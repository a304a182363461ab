// Reading the rows of a featurize request (text/csv, application/json, application/jsonlines)
// into cells, one row at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stages/common/result.h"

namespace tandem::builtin::featurize {

// One value on its way through the transformers. Text views into the request body, the parsed
// JSON or the spec, all of which outlive the row.
struct Cell {
  enum class Kind { missing, number, text };
  Kind kind = Kind::missing;
  double number = 0;
  std::string_view text;
  std::size_t column = 0;  // the input column it comes from, for messages
};

enum class InputFormat { csv, json, jsonlines };

// "column 2 (\"size\")", or "column 2" without names. Columns are 0-based like the indexes in
// featurize.json; rows are 1-based like lines.
std::string describe_column(std::size_t column, const std::vector<std::string>& names);
// "row 3, column 2 (\"size\")"
std::string describe_cell(std::size_t row, std::size_t column,
                          const std::vector<std::string>& names);

// Called once per row with its cells (their `column` set) and its 1-based number.
using RowVisitor = std::function<Status(std::span<const Cell> row, std::size_t number)>;

// Reads the rows of `body` and visits each, stopping at the first Failure (a malformed body, or
// what the visitor returns). Missing values (empty fields, "nan" in any case, JSON null)
// become missing cells; JSON numbers numbers; every other field text. JSON bodies are
// {"instances": [[...], ...]}, [[...], ...] or one row [...]; JSON lines hold one array each.
// `names` only serve messages.
Status read_rows(std::string_view body, InputFormat format, const std::vector<std::string>& names,
                 const RowVisitor& visit);

}  // namespace tandem::builtin::featurize
