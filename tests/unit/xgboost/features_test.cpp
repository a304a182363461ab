// Request rows to XGBoost's dense matrix: CSV and LIBSVM, missing values, every error.
#include "stages/xgboost/features.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

namespace tandem::builtin::xgboost {
namespace {

// The matrix's values with NaN written as -999 so that vectors compare with ==.
std::vector<float> values_of(const FeatureMatrix& matrix) {
  std::vector<float> values = matrix.values;
  for (float& value : values) {
    if (std::isnan(value)) value = -999;
  }
  return values;
}

std::string error_of(const Result<FeatureMatrix>& result) {
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().status == 400);
  return result.error().message;
}

TEST_CASE("CSV: rows of numbers, empty or nan fields missing") {
  const auto matrix = parse_csv_features("1,2.5,-3\n,nan, 4e2 \r\n\n+1,NaN,inf", 3);
  REQUIRE(matrix.ok());
  CHECK(matrix->rows == 3);
  CHECK(matrix->columns == 3);
  CHECK(values_of(*matrix) == std::vector<float>{1, 2.5, -3, -999, -999, 400, 1, -999, INFINITY});
}

TEST_CASE("CSV: values beyond float32 become infinities, as numpy's astype does") {
  const auto matrix = parse_csv_features("1e300,-1e300,1e-300", 3);
  REQUIRE(matrix.ok());
  CHECK(values_of(*matrix) == std::vector<float>{INFINITY, -INFINITY, 0});
}

TEST_CASE("CSV errors name the row and the column (the 0-based feature index)") {
  CHECK(error_of(parse_csv_features("1,2,3\n1,2\n", 3)) == "row 2: expected 3 features, got 2");
  CHECK(error_of(parse_csv_features("1,2\n", 1)) == "row 1: expected 1 feature, got 2");
  CHECK(error_of(parse_csv_features("1,2,3\n\n4,x,6\n", 3)) ==
        "row 2, column 1: expected a number, got \"x\"");
  CHECK(error_of(parse_csv_features("1,\"2\n", 2)) == "row 1: unterminated quoted field");
}

TEST_CASE("CSV: no rows is an empty matrix (the predictor answers 400)") {
  const auto matrix = parse_csv_features("\n\n", 3);
  REQUIRE(matrix.ok());
  CHECK(matrix->rows == 0);
  CHECK(matrix->values.empty());
}

TEST_CASE("LIBSVM: 0-based indexes, optional label, unlisted features missing") {
  const auto matrix = parse_libsvm_features("1 0:1.5 2:3\n2:-1 1:0\r\n\n  \n0.5\tqid:3\t3:7\n", 4);
  REQUIRE(matrix.ok());
  CHECK(matrix->rows == 3);
  CHECK(values_of(*matrix) ==
        std::vector<float>{1.5, -999, 3, -999, -999, 0, -1, -999, -999, -999, -999, 7});
}

TEST_CASE("LIBSVM: a line with only a label is a row of missing values") {
  const auto matrix = parse_libsvm_features("1\n", 2);
  REQUIRE(matrix.ok());
  CHECK(values_of(*matrix) == std::vector<float>{-999, -999});
}

TEST_CASE("LIBSVM errors name the row") {
  CHECK(error_of(parse_libsvm_features("0:1\n1 0:1 3:2\n", 3)) ==
        "row 2: feature index 3 is out of range: the model has 3 features (indexes 0 to 2)");
  CHECK(error_of(parse_libsvm_features("1 1:1 1:2\n", 3)) ==
        "row 1: feature index 1 appears twice");
  CHECK(error_of(parse_libsvm_features("abc 0:1\n", 3)) ==
        "row 1: expected a label or index:value, got \"abc\"");
  CHECK(error_of(parse_libsvm_features("1 0:1 2\n", 3)) ==
        "row 1: expected index:value, got \"2\"");
  CHECK(error_of(parse_libsvm_features("1 0:x\n", 3)) ==
        "row 1: expected index:value, got \"0:x\"");
  CHECK(error_of(parse_libsvm_features("1 -1:2\n", 3)) ==
        "row 1: expected index:value, got \"-1:2\"");
  CHECK(error_of(parse_libsvm_features("1 0:\n", 3)) == "row 1: expected index:value, got \"0:\"");
}

}  // namespace
}  // namespace tandem::builtin::xgboost
