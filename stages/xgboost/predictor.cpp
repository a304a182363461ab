#include "stages/xgboost/predictor.h"

#include "stages/common/media_type.h"
#include "stages/common/numbers.h"
#include "stages/xgboost/features.h"

namespace tandem::builtin::xgboost {
namespace {

constexpr std::string_view csv_type = "text/csv";
constexpr std::string_view libsvm_type = "text/libsvm";
constexpr std::string_view x_libsvm_type = "text/x-libsvm";  // SageMaker's container takes both

}  // namespace

Result<Reply> Predictor::invoke(std::string_view body, std::string_view content_type,
                                std::string_view accept) const {
  const auto answer_type = negotiate_accept(accept, {csv_type});
  if (!answer_type) return answer_type.error();
  const auto type = request_media_type(content_type, csv_type);
  const bool libsvm = type == libsvm_type || type == x_libsvm_type;
  if (type != csv_type && !libsvm) {
    return unsupported_content_type(content_type, {csv_type, libsvm_type});
  }
  const auto matrix = libsvm ? parse_libsvm_features(body, booster_.num_features())
                             : parse_csv_features(body, booster_.num_features());
  if (!matrix) return matrix.error();
  if (matrix->rows == 0) return Failure::bad_request("the request has no rows");
  const auto predictions = booster_.predict(*matrix);
  if (!predictions) return predictions.error();
  return Reply{format_predictions(*predictions), std::string(csv_type)};
}

std::string format_predictions(const Predictions& predictions) {
  std::string out;
  out.reserve(predictions.values.size() * 12);
  for (std::size_t row = 0; row < predictions.rows; ++row) {
    for (std::size_t i = 0; i < predictions.per_row; ++i) {
      if (i > 0) out.push_back(',');
      append_shortest(out, predictions.values[row * predictions.per_row + i]);
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace tandem::builtin::xgboost
