#include "pipeline/transform/csv.h"

#include <fmt/format.h>

namespace tandem::transform {
namespace {

Error csv_error(std::size_t position, std::string_view what) {
  return Error{fmt::format("CSV position {}: {}", position, what)};
}

// The end of the quoted field that starts at `start`, just past its closing quote.
Result<std::size_t> quoted_field_end(std::string_view record, std::size_t start) {
  std::size_t pos = start + 1;
  while (pos < record.size()) {
    if (record[pos] != '"') {
      ++pos;
    } else if (pos + 1 < record.size() && record[pos + 1] == '"') {
      pos += 2;
    } else {
      return pos + 1;
    }
  }
  return csv_error(start, "unterminated quoted field");
}

}  // namespace

Result<std::vector<std::string_view>> split_csv_record(std::string_view record) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    std::size_t end = 0;
    if (start < record.size() && record[start] == '"') {
      Result<std::size_t> closed = quoted_field_end(record, start);
      if (!closed) return closed.error();
      end = *closed;
      if (end < record.size() && record[end] != ',') {
        return csv_error(end, "expected ',' after a closing quote");
      }
    } else {
      end = record.find(',', start);
      if (end == std::string_view::npos) end = record.size();
    }
    fields.push_back(record.substr(start, end - start));
    if (end >= record.size()) return fields;
    start = end + 1;
  }
}

std::string quote_csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string quoted = "\"";
  for (const char c : value) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

}  // namespace tandem::transform
