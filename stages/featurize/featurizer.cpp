#include "stages/featurize/featurizer.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <utility>

#include "stages/common/media_type.h"
#include "stages/common/numbers.h"

namespace tandem::builtin::featurize {
namespace {

constexpr std::string_view csv_type = "text/csv";
constexpr std::string_view json_type = "application/json";
constexpr std::string_view jsonlines_type = "application/jsonlines";

std::size_t width_after(const Transformer& transformer) {
  std::size_t width = transformer.columns.size();
  for (const auto& step : transformer.steps) {
    if (const auto* onehot = std::get_if<OneHotStep>(&step)) {
      width = 0;
      for (const auto& categories : onehot->categories) width += categories.count;
    }
  }
  return width;
}

Cell number_cell(double value, std::size_t column) {
  return Cell{.kind = Cell::Kind::number, .number = value, .column = column};
}

// The output position of `cell` among `categories`, or nothing for an unknown or missing one.
// A text field matches numeric categories by its value; a number matches string categories
// by its shortest text (1.0 -> "1").
std::optional<std::size_t> category_of(const Cell& cell, const Categories& categories,
                                       std::string& number_text) {
  if (cell.kind == Cell::Kind::missing) return std::nullopt;
  if (categories.numeric) {
    const auto value = cell.kind == Cell::Kind::number ? std::optional<double>(cell.number)
                                                       : parse_number(cell.text);
    if (!value) return std::nullopt;
    const auto found = categories.numbers.find(*value);
    if (found == categories.numbers.end()) return std::nullopt;
    return found->second;
  }
  std::string_view text = cell.text;
  if (cell.kind == Cell::Kind::number) {
    number_text.clear();
    append_shortest(number_text, cell.number);
    text = number_text;
  }
  const auto found = categories.strings.find(text);
  if (found == categories.strings.end()) return std::nullopt;
  return found->second;
}

std::string describe_value(const Cell& cell) {
  if (cell.kind == Cell::Kind::missing) return "(missing value)";
  if (cell.kind == Cell::Kind::text) return quote_for_message(cell.text);
  std::string text;
  append_shortest(text, cell.number);
  return text;
}

}  // namespace

Featurizer::Featurizer(FeaturizeSpec spec) : spec_(std::move(spec)) {
  for (const auto& transformer : spec_.transformers) output_width_ += width_after(transformer);
  output_width_ += spec_.passthrough_columns.size();
}

Result<Reply> Featurizer::invoke(std::string_view body, std::string_view content_type,
                                 std::string_view accept) const {
  const auto answer_type = negotiate_accept(accept, {csv_type});
  if (!answer_type) return answer_type.error();
  const auto type = request_media_type(content_type, csv_type);
  InputFormat format = InputFormat::csv;
  if (type == json_type) {
    format = InputFormat::json;
  } else if (type == jsonlines_type) {
    format = InputFormat::jsonlines;
  } else if (type != csv_type) {
    return unsupported_content_type(content_type, {csv_type, json_type, jsonlines_type});
  }
  auto csv = transform(body, format);
  if (!csv) return csv.error();
  return Reply{std::move(*csv), std::string(csv_type)};
}

Result<std::string> Featurizer::transform(std::string_view body, InputFormat format) const {
  std::string out;
  Scratch scratch;
  std::size_t rows = 0;
  auto status = read_rows(body, format, spec_.input_columns,
                          [&](std::span<const Cell> row, std::size_t number) {
                            ++rows;
                            return transform_row(row, number, scratch, out);
                          });
  if (!status) return std::move(status).error();
  if (rows == 0) return Failure::bad_request("the request has no rows");
  return out;
}

Status Featurizer::transform_row(std::span<const Cell> row, std::size_t number, Scratch& scratch,
                                 std::string& out) const {
  if (row.size() != spec_.n_input_columns) {
    return Failure::bad_request(fmt::format("row {}: expected {} columns, got {}", number,
                                            spec_.n_input_columns, row.size()));
  }
  const auto line_start = out.size();
  bool first = true;
  const auto emit = [&](const Cell& cell) -> Status {
    if (!first) out.push_back(',');
    first = false;
    return append_output(cell, number, out);
  };
  for (const auto& transformer : spec_.transformers) {
    scratch.cells.clear();
    for (const auto column : transformer.columns) scratch.cells.push_back(row[column]);
    for (const auto& step : transformer.steps) {
      if (auto status = apply(step, number, scratch); !status) return status;
    }
    for (const auto& cell : scratch.cells) {
      if (auto status = emit(cell); !status) return status;
    }
  }
  for (const auto column : spec_.passthrough_columns) {
    if (auto status = emit(row[column]); !status) return status;
  }
  // With one output column a missing value would make an empty line, which CSV readers skip
  // (so the next stage would see one row less): write it as "nan", which they read as missing.
  if (out.size() == line_start && output_width_ == 1) out.append("nan");
  out.push_back('\n');
  return {};
}

Status Featurizer::apply(const Step& step, std::size_t row, Scratch& scratch) const {
  if (const auto* impute_step = std::get_if<ImputeStep>(&step)) {
    return impute(*impute_step, scratch);
  }
  if (const auto* scale_step = std::get_if<ScaleStep>(&step)) {
    return scale(*scale_step, row, scratch);
  }
  return onehot(std::get<OneHotStep>(step), row, scratch);
}

Status Featurizer::impute(const ImputeStep& step, Scratch& scratch) const {
  for (std::size_t i = 0; i < scratch.cells.size(); ++i) {
    Cell& cell = scratch.cells[i];
    if (cell.kind != Cell::Kind::missing) continue;
    if (const auto* number = std::get_if<double>(&step.fill[i])) {
      cell.kind = Cell::Kind::number;
      cell.number = *number;
    } else {
      cell.kind = Cell::Kind::text;
      cell.text = std::get<std::string>(step.fill[i]);
    }
  }
  return {};
}

// Missing values stay missing, as StandardScaler passes NaN through.
Status Featurizer::scale(const ScaleStep& step, std::size_t row, Scratch& scratch) const {
  for (std::size_t i = 0; i < scratch.cells.size(); ++i) {
    Cell& cell = scratch.cells[i];
    if (cell.kind == Cell::Kind::missing) continue;
    if (cell.kind == Cell::Kind::text) {
      const auto value = parse_number(cell.text);
      if (!value) return not_a_number(cell, row);
      cell = number_cell(*value, cell.column);
    }
    cell.number = (cell.number - step.mean[i]) / step.scale[i];
  }
  return {};
}

Status Featurizer::onehot(const OneHotStep& step, std::size_t row, Scratch& scratch) const {
  scratch.next.clear();
  for (std::size_t i = 0; i < scratch.cells.size(); ++i) {
    const Cell& cell = scratch.cells[i];
    const Categories& categories = step.categories[i];
    const auto position = category_of(cell, categories, scratch.number_text);
    if (!position && !step.ignore_unknown) {
      return Failure::bad_request(fmt::format("{}: unknown category {}",
                                              describe_cell(row, cell.column, spec_.input_columns),
                                              describe_value(cell)));
    }
    const auto start = scratch.next.size();
    scratch.next.resize(start + categories.count, number_cell(0, cell.column));
    if (position) scratch.next[start + *position].number = 1;
  }
  std::swap(scratch.cells, scratch.next);
  return {};
}

Status Featurizer::append_output(const Cell& cell, std::size_t row, std::string& out) const {
  double value = cell.number;
  if (cell.kind == Cell::Kind::missing) return {};
  if (cell.kind == Cell::Kind::text) {
    const auto parsed = parse_number(cell.text);
    if (!parsed) return not_a_number(cell, row);
    value = *parsed;
  }
  if (!std::isnan(value)) append_shortest(out, value);
  return {};
}

Failure Featurizer::not_a_number(const Cell& cell, std::size_t row) const {
  return Failure::bad_request(fmt::format("{}: expected a number, got {}",
                                          describe_cell(row, cell.column, spec_.input_columns),
                                          quote_for_message(cell.text)));
}

}  // namespace tandem::builtin::featurize
