#include "stages/featurize/rows.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "stages/common/csv.h"
#include "stages/common/model_json.h"
#include "stages/common/numbers.h"

namespace tandem::builtin::featurize {
namespace {

using nlohmann::json;

constexpr std::string_view json_forms = R"({"instances": [[...], ...]}, [[...], ...] or [...])";

Cell field_cell(std::string_view field, std::size_t column) {
  if (is_missing(field)) return Cell{.column = column};
  return Cell{.kind = Cell::Kind::text, .text = field, .column = column};
}

Status read_csv(std::string_view body, const RowVisitor& visit) {
  CsvReader reader(body);
  std::vector<std::string_view> fields;
  std::vector<Cell> cells;
  for (;;) {
    auto more = reader.next(fields);
    if (!more) return more.error();
    if (!*more) return {};
    cells.clear();
    for (std::size_t i = 0; i < fields.size(); ++i) cells.push_back(field_cell(fields[i], i));
    if (auto status = visit(cells, reader.row()); !status) return status;
  }
}

Result<json> parse_json(std::string_view text, std::string_view where) {
  try {
    return json::parse(text);
  } catch (const json::exception& error) {  // parse_error, or out_of_range for 1e400
    return Failure::bad_request(
        fmt::format("{}invalid JSON: {}", where, json_error_message(error.what())));
  }
}

// Visits one JSON array as a row; its elements must be numbers, strings or null.
Status visit_json_row(const json& row, std::size_t number, const std::vector<std::string>& names,
                      std::vector<Cell>& cells, const RowVisitor& visit) {
  if (!row.is_array()) {
    return Failure::bad_request(
        fmt::format("row {}: expected an array of values, got {}", number, describe_json(row)));
  }
  cells.clear();
  for (std::size_t i = 0; i < row.size(); ++i) {
    const json& value = row[i];
    if (value.is_null()) {
      cells.push_back(Cell{.column = i});
    } else if (value.is_number()) {
      cells.push_back(Cell{.kind = Cell::Kind::number, .number = value.get<double>(), .column = i});
    } else if (value.is_string()) {
      cells.push_back(field_cell(value.get_ref<const std::string&>(), i));
    } else {
      return Failure::bad_request(fmt::format("{}: expected a number, a string or null, got {}",
                                              describe_cell(number, i, names),
                                              describe_json(value)));
    }
  }
  return visit(cells, number);
}

// The rows of a JSON document: an array of arrays, an "instances" member holding one, or one
// row. An array whose first element is not an array is one row.
Result<const json*> json_rows(const json& document, bool& single_row) {
  single_row = false;
  if (document.is_object()) {
    const auto instances = document.find("instances");
    if (instances != document.end() && instances->is_array()) return &*instances;
  } else if (document.is_array()) {
    single_row = !document.empty() && !document.front().is_array();
    return &document;
  }
  return Failure::bad_request(fmt::format(
      "expected {}, got {}", json_forms,
      document.is_object() ? "an object without \"instances\"" : describe_json(document)));
}

Status read_json(std::string_view body, const std::vector<std::string>& names,
                 const RowVisitor& visit) {
  auto document = parse_json(body, "");
  if (!document) return document.error();
  bool single_row = false;
  auto rows = json_rows(*document, single_row);
  if (!rows) return rows.error();
  std::vector<Cell> cells;
  if (single_row) return visit_json_row(**rows, 1, names, cells, visit);
  std::size_t number = 0;
  for (const json& row : **rows) {
    if (auto status = visit_json_row(row, ++number, names, cells, visit); !status) return status;
  }
  return {};
}

Status read_jsonlines(std::string_view body, const std::vector<std::string>& names,
                      const RowVisitor& visit) {
  std::vector<Cell> cells;
  std::size_t number = 0;
  while (!body.empty()) {
    const auto end = body.find('\n');
    const auto line = body.substr(0, end);
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ++number;
    auto row = parse_json(line, fmt::format("row {}: ", number));
    if (!row) return row.error();
    if (auto status = visit_json_row(*row, number, names, cells, visit); !status) return status;
  }
  return {};
}

}  // namespace

std::string describe_column(std::size_t column, const std::vector<std::string>& names) {
  if (column < names.size()) return fmt::format("column {} (\"{}\")", column, names[column]);
  return fmt::format("column {}", column);
}

std::string describe_cell(std::size_t row, std::size_t column,
                          const std::vector<std::string>& names) {
  return fmt::format("row {}, {}", row, describe_column(column, names));
}

Status read_rows(std::string_view body, InputFormat format, const std::vector<std::string>& names,
                 const RowVisitor& visit) {
  switch (format) {
    case InputFormat::csv:
      return read_csv(body, visit);
    case InputFormat::json:
      return read_json(body, names, visit);
    case InputFormat::jsonlines:
      return read_jsonlines(body, names, visit);
  }
  return {};
}

}  // namespace tandem::builtin::featurize
