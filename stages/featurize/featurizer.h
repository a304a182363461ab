// The featurize stage's logic: a fitted ColumnTransformer (FeaturizeSpec) applied to the rows
// of a request, answered as numeric text/csv for the model stage after it.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stages/common/result.h"
#include "stages/featurize/rows.h"
#include "stages/featurize/spec.h"

namespace tandem::builtin::featurize {

// Immutable after construction, so invoke() may run on many threads at once.
class Featurizer {
 public:
  explicit Featurizer(FeaturizeSpec spec);

  const FeaturizeSpec& spec() const { return spec_; }
  // How many numbers each row becomes.
  std::size_t output_width() const { return output_width_; }

  // One invocation: 415 for a Content-Type other than text/csv, application/json and
  // application/jsonlines (none means text/csv), 406 for an Accept without text/csv, 400
  // naming the row (and column) for bad input, else one CSV line per row.
  Result<Reply> invoke(std::string_view body, std::string_view content_type,
                       std::string_view accept) const;

  // The CSV lines for the rows of `body`: numbers in their shortest exact form, missing
  // values as empty fields. A body without rows is a 400.
  Result<std::string> transform(std::string_view body, InputFormat format) const;

 private:
  // Buffers reused from row to row.
  struct Scratch {
    std::vector<Cell> cells;
    std::vector<Cell> next;
    std::string number_text;
  };

  Status transform_row(std::span<const Cell> row, std::size_t number, Scratch& scratch,
                       std::string& out) const;
  Status apply(const Step& step, std::size_t row, Scratch& scratch) const;
  Status impute(const ImputeStep& step, Scratch& scratch) const;
  Status scale(const ScaleStep& step, std::size_t row, Scratch& scratch) const;
  Status onehot(const OneHotStep& step, std::size_t row, Scratch& scratch) const;
  Status append_output(const Cell& cell, std::size_t row, std::string& out) const;
  Failure not_a_number(const Cell& cell, std::size_t row) const;

  FeaturizeSpec spec_;
  std::size_t output_width_ = 0;
};

}  // namespace tandem::builtin::featurize
