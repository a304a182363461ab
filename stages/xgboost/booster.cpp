#include "stages/xgboost/booster.h"

#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace tandem::builtin::xgboost {
namespace {

// Normal prediction (probabilities for classifiers, values for regression), all trees,
// NaN as missing (XGBoost's JSON reader takes NaN, as Python's json.dumps writes it).
constexpr const char* predict_config =
    R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
    R"("strict_shape": false, "missing": NaN, "cache_id": 0})";

// XGBoost's last error on this thread, without the time stamp it starts with ("[19:42:00] ")
// and the stack trace it may append.
std::string last_error() {
  std::string_view message = XGBGetLastError();
  if (message.starts_with('[') && message.find("] ") == 9) message.remove_prefix(11);
  const auto trace = message.find("Stack trace:");
  if (trace != std::string_view::npos) message = message.substr(0, trace);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.remove_suffix(1);
  }
  return std::string(message);
}

// numpy's __array_interface__ for a C-contiguous float32 matrix, read-only.
std::string array_interface(const FeatureMatrix& matrix) {
  return fmt::format(R"({{"data": [{}, true], "shape": [{}, {}], "typestr": "<f4", "version": 3}})",
                     reinterpret_cast<std::uintptr_t>(matrix.values.data()), matrix.rows,
                     matrix.columns);
}

}  // namespace

Booster Booster::load(const std::filesystem::path& file, int threads) {
  BoosterHandle handle = nullptr;
  if (XGBoosterCreate(nullptr, 0, &handle) != 0) {
    throw std::runtime_error(fmt::format("cannot create an XGBoost booster: {}", last_error()));
  }
  Booster booster(handle);  // frees the handle if anything below throws
  if (XGBoosterLoadModel(handle, file.c_str()) != 0) {
    throw std::runtime_error(
        fmt::format("{}: cannot load the XGBoost model: {}", file.string(), last_error()));
  }
  if (XGBoosterSetParam(handle, "nthread", std::to_string(threads).c_str()) != 0) {
    throw std::runtime_error(
        fmt::format("{}: cannot set nthread: {}", file.string(), last_error()));
  }
  bst_ulong num_features = 0;
  if (XGBoosterGetNumFeature(handle, &num_features) != 0 || num_features == 0) {
    throw std::runtime_error(
        fmt::format("{}: the model has no features: {}", file.string(), last_error()));
  }
  booster.num_features_ = num_features;
  const FeatureMatrix one_missing_row{
      1, booster.num_features_,
      std::vector<float>(booster.num_features_, std::numeric_limits<float>::quiet_NaN())};
  auto warm_up = booster.predict(one_missing_row);
  if (!warm_up) {
    throw std::runtime_error(fmt::format("{}: {}", file.string(), warm_up.error().message));
  }
  booster.outputs_per_row_ = warm_up->per_row;
  return booster;
}

Booster::Booster(Booster&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      num_features_(other.num_features_),
      outputs_per_row_(other.outputs_per_row_) {}

Booster& Booster::operator=(Booster&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) XGBoosterFree(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    num_features_ = other.num_features_;
    outputs_per_row_ = other.outputs_per_row_;
  }
  return *this;
}

Booster::~Booster() {
  if (handle_ != nullptr) XGBoosterFree(handle_);
}

Result<Predictions> Booster::predict(const FeatureMatrix& matrix) const {
  const auto interface = array_interface(matrix);
  const bst_ulong* shape = nullptr;
  bst_ulong dimensions = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(handle_, interface.c_str(), predict_config, nullptr, &shape,
                                &dimensions, &result) != 0) {
    return Failure::internal(fmt::format("XGBoost failed to predict: {}", last_error()));
  }
  std::size_t total = 1;
  for (bst_ulong i = 0; i < dimensions; ++i) total *= shape[i];
  if (dimensions == 0 || shape[0] != matrix.rows || matrix.rows == 0) {
    return Failure::internal(
        fmt::format("XGBoost answered {} values for {} rows", total, matrix.rows));
  }
  Predictions predictions{matrix.rows, total / matrix.rows,
                          std::vector<float>(result, result + total)};
  return predictions;
}

}  // namespace tandem::builtin::xgboost
