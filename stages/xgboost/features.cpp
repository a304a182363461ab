#include "stages/xgboost/features.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <span>
#include <string>

#include "stages/common/csv.h"
#include "stages/common/numbers.h"

namespace tandem::builtin::xgboost {
namespace {

constexpr float missing = std::numeric_limits<float>::quiet_NaN();

std::string plural(std::size_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

// numpy's astype(float32): values beyond float's range become infinities (a plain cast of
// those would be undefined behaviour).
float to_float(double value) {
  constexpr double largest = std::numeric_limits<float>::max();
  if (!(std::abs(value) > largest)) return static_cast<float>(value);
  return value > 0 ? std::numeric_limits<float>::infinity()
                   : -std::numeric_limits<float>::infinity();
}

std::optional<std::size_t> parse_index(std::string_view text) {
  std::size_t index = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, index);
  if (error != std::errc{} || stop != end || text.empty()) return std::nullopt;
  return index;
}

// Reads the tokens of one LIBSVM line into `row` (pre-filled with NaN). `seen[i] == number`
// marks feature i as already set in this row.
Status parse_libsvm_row(std::string_view line, std::size_t number, std::span<float> row,
                        std::vector<std::size_t>& seen) {
  bool first = true;
  std::size_t start = 0;
  while ((start = line.find_first_not_of(" \t", start)) != std::string_view::npos) {
    const auto end = std::min(line.find_first_of(" \t", start), line.size());
    const auto token = line.substr(start, end - start);
    start = end;
    const auto colon = token.find(':');
    if (colon == std::string_view::npos) {
      if (first && parse_number(token)) {  // the label: predictions do not use it
        first = false;
        continue;
      }
      return Failure::bad_request(fmt::format("row {}: expected {}index:value, got {}", number,
                                              first ? "a label or " : "",
                                              quote_for_message(token)));
    }
    first = false;
    const auto key = token.substr(0, colon);
    if (key == "qid") continue;  // ranking groups: no feature
    const auto index = parse_index(key);
    const auto value = parse_number(token.substr(colon + 1));
    if (!index || !value) {
      return Failure::bad_request(
          fmt::format("row {}: expected index:value, got {}", number, quote_for_message(token)));
    }
    if (*index >= row.size()) {
      return Failure::bad_request(fmt::format(
          "row {}: feature index {} is out of range: the model has {} (indexes 0 to {})", number,
          *index, plural(row.size(), "feature"), row.size() - 1));
    }
    if (seen[*index] == number) {
      return Failure::bad_request(
          fmt::format("row {}: feature index {} appears twice", number, *index));
    }
    seen[*index] = number;
    row[*index] = to_float(*value);
  }
  return {};
}

}  // namespace

Result<FeatureMatrix> parse_csv_features(std::string_view body, std::size_t num_features) {
  FeatureMatrix matrix{0, num_features, {}};
  CsvReader reader(body);
  std::vector<std::string_view> fields;
  for (;;) {
    auto more = reader.next(fields);
    if (!more) return more.error();
    if (!*more) break;
    if (fields.size() != num_features) {
      return Failure::bad_request(fmt::format("row {}: expected {}, got {}", reader.row(),
                                              plural(num_features, "feature"), fields.size()));
    }
    for (std::size_t column = 0; column < fields.size(); ++column) {
      if (is_missing(fields[column])) {
        matrix.values.push_back(missing);
        continue;
      }
      const auto value = parse_number(fields[column]);
      if (!value) {
        return Failure::bad_request(fmt::format("row {}, column {}: expected a number, got {}",
                                                reader.row(), column,
                                                quote_for_message(fields[column])));
      }
      matrix.values.push_back(to_float(*value));
    }
    ++matrix.rows;
  }
  return matrix;
}

Result<FeatureMatrix> parse_libsvm_features(std::string_view body, std::size_t num_features) {
  FeatureMatrix matrix{0, num_features, {}};
  std::vector<std::size_t> seen(num_features, 0);
  while (!body.empty()) {
    const auto end = body.find('\n');
    auto line = body.substr(0, end);
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (line.back() == '\r') line.remove_suffix(1);
    const std::size_t number = ++matrix.rows;
    matrix.values.resize(matrix.rows * num_features, missing);
    const std::span<float> row(matrix.values.data() + (number - 1) * num_features, num_features);
    if (auto status = parse_libsvm_row(line, number, row, seen); !status)
      return std::move(status).error();
  }
  return matrix;
}

}  // namespace tandem::builtin::xgboost
