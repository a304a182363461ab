// Splitting a text/csv request body into rows of fields, shared by the built-in stages.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "stages/common/result.h"

namespace tandem::builtin {

// Reads a CSV body row by row, without a header: `,` separates fields; a field in double
// quotes may hold commas, line breaks and `""` (one quote); a row ends at `\n` or `\r\n`, the
// last one may end without. Empty lines are skipped and are not rows, so row numbers count
// the rows a stage answers one line each for. A quote inside an unquoted field is kept as is.
//
// The reader borrows the body, which must outlive it. Fields are views into the body, or into
// the reader's own storage for quoted fields that needed unescaping; they stay valid until
// the next call to next().
class CsvReader {
 public:
  explicit CsvReader(std::string_view body) : body_(body) {}

  // Reads the next row into `fields`. Returns false after the last row, or a Failure naming
  // the row when a quoted field is malformed.
  Result<bool> next(std::vector<std::string_view>& fields);

  // The 1-based number of the row next() last read.
  std::size_t row() const { return row_; }

 private:
  bool at_line_end() const;
  void skip_line_end();
  Result<std::string_view> read_quoted();
  std::string_view read_unquoted();

  std::string_view body_;
  std::size_t pos_ = 0;
  std::size_t row_ = 0;
  std::deque<std::string> unescaped_;  // a deque: growing it keeps earlier fields' views valid
};

// Appends `text` to `out` as one CSV field, quoted when it holds a comma, quote or line break.
void append_csv_field(std::string& out, std::string_view text);

}  // namespace tandem::builtin
