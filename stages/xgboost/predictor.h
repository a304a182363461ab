// The xgboost stage's logic: a request's rows (text/csv or text/libsvm) predicted as one batch
// and answered as text/csv, one line per row.
#pragma once

#include <string>
#include <string_view>

#include "stages/common/result.h"
#include "stages/xgboost/booster.h"

namespace tandem::builtin::xgboost {

// Thread-safe, as Booster is: invoke() may run on many threads at once.
class Predictor {
 public:
  explicit Predictor(Booster booster) : booster_(std::move(booster)) {}

  const Booster& booster() const { return booster_; }

  // One invocation: 415 for a Content-Type other than text/csv, text/libsvm and text/x-libsvm
  // (none means text/csv, as in SageMaker's container); 406 for an Accept without text/csv;
  // 400 naming the row for bad input or a body without rows; 500 if XGBoost itself fails.
  Result<Reply> invoke(std::string_view body, std::string_view content_type,
                       std::string_view accept) const;

 private:
  Booster booster_;
};

// One line per row: its prediction, or its values (class probabilities) comma-separated, each
// in the shortest form that reads back as the same float32.
std::string format_predictions(const Predictions& predictions);

}  // namespace tandem::builtin::xgboost
