// Reading the rows of an XGBoost request (text/csv or text/libsvm) into the dense float32
// matrix XGBoost predicts from.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "stages/common/result.h"

namespace tandem::builtin::xgboost {

// Row-major float32 features, NaN for a missing value (XGBoost's `missing`).
struct FeatureMatrix {
  std::size_t rows = 0;
  std::size_t columns = 0;
  std::vector<float> values;  // rows * columns
};

// CSV rows of exactly `num_features` numbers each; an empty field or "nan" is missing. A 400
// names the row (1-based) and column (0-based, the feature index) of the first bad value.
Result<FeatureMatrix> parse_csv_features(std::string_view body, std::size_t num_features);

// LIBSVM rows: `[label] index:value ...`. Indexes are 0-based feature indexes, as XGBoost 1.7's
// own libsvm loader reads them (dmlc-core's default indexing_mode=0): `0:1.5` is feature f0.
// A first token without `:` is a label and ignored; `qid:` tokens are ignored; features a row
// does not list are missing. An index at or beyond `num_features`, a repeated index, or a
// malformed token is a 400 naming the row.
Result<FeatureMatrix> parse_libsvm_features(std::string_view body, std::size_t num_features);

}  // namespace tandem::builtin::xgboost
