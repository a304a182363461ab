// An XGBoost model loaded through libxgboost's C API.
#pragma once

#include <cstddef>
#include <filesystem>
#include <vector>

#include "stages/common/result.h"
#include "stages/xgboost/features.h"

namespace tandem::builtin::xgboost {

// What the model answered for a batch: `per_row` values for each of `rows` rows, row-major
// (1 for regression and binary models, one probability per class for multi:softprob).
struct Predictions {
  std::size_t rows = 0;
  std::size_t per_row = 0;
  std::vector<float> values;
};

// Owns one booster. Thread-safe without a lock: after load() nothing but predict() touches the
// booster, and predict() calls only XGBoosterPredictFromDense (in-place prediction), which
// XGBoost 1.7 documents as safe and lock-free from several threads on one booster. Its result
// lives in XGBoost's per-thread storage, which predict() copies before returning.
class Booster {
 public:
  // Loads `file` (JSON, UBJSON or the old binary format, whatever its name) with `threads`
  // threads per prediction, and predicts once so that configuration happens now rather than
  // racing in the first requests. Throws std::runtime_error naming the file with XGBoost's
  // reason.
  static Booster load(const std::filesystem::path& file, int threads);

  Booster(Booster&& other) noexcept;
  Booster& operator=(Booster&& other) noexcept;
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  ~Booster();

  std::size_t num_features() const { return num_features_; }
  std::size_t outputs_per_row() const { return outputs_per_row_; }

  // Predicts all rows of `matrix` (whose columns must be num_features()) as one batch. A
  // Failure (500) carries XGBoost's message if it fails.
  Result<Predictions> predict(const FeatureMatrix& matrix) const;

 private:
  explicit Booster(void* handle) : handle_(handle) {}

  void* handle_ = nullptr;  // BoosterHandle; void* keeps the C API out of this header
  std::size_t num_features_ = 0;
  std::size_t outputs_per_row_ = 0;
};

}  // namespace tandem::builtin::xgboost
