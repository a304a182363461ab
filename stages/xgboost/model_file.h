// Which file in the model folder is the XGBoost model, by the rules of SageMaker's XGBoost
// container.
#pragma once

#include <filesystem>

namespace tandem::builtin::xgboost {

// `dir`/xgboost-model when it exists; else the only regular file there named *.json, *.ubj,
// *.model or *.bst. Throws std::runtime_error naming the folder when it is missing, holds no
// candidate, or holds several (listing them).
std::filesystem::path find_model_file(const std::filesystem::path& dir);

}  // namespace tandem::builtin::xgboost
