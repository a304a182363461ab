#include "stages/xgboost/model_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace tandem::builtin::xgboost {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view default_name = "xgboost-model";
constexpr std::array<std::string_view, 4> extensions = {".json", ".ubj", ".model", ".bst"};

bool is_candidate(const fs::directory_entry& entry) {
  std::error_code error;
  if (!entry.is_regular_file(error)) return false;  // follows symlinks, as a loader would
  const auto extension = entry.path().extension().string();
  return std::find(extensions.begin(), extensions.end(), extension) != extensions.end();
}

}  // namespace

fs::path find_model_file(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw std::runtime_error(
        fmt::format("{}: the model directory {}", dir.string(),
                    fs::exists(dir, error) ? "is a file, not a directory" : "does not exist"));
  }
  const auto named = dir / default_name;
  if (fs::exists(named, error)) {
    if (!fs::is_regular_file(named, error)) {
      throw std::runtime_error(fmt::format("{}: not a regular file", named.string()));
    }
    return named;
  }
  std::vector<fs::path> candidates;
  fs::directory_iterator entries(dir, error);
  if (error) {
    throw std::runtime_error(fmt::format("{}: cannot list: {}", dir.string(), error.message()));
  }
  for (const auto& entry : entries) {
    if (is_candidate(entry)) candidates.push_back(entry.path());
  }
  if (candidates.size() == 1) return candidates.front();
  if (candidates.empty()) {
    throw std::runtime_error(fmt::format(
        "{}: no XGBoost model: expected a file named xgboost-model, or one *.json, *.ubj, "
        "*.model or *.bst file",
        dir.string()));
  }
  std::sort(candidates.begin(), candidates.end());
  std::vector<std::string> names;
  for (const auto& candidate : candidates) names.push_back(candidate.filename().string());
  throw std::runtime_error(fmt::format(
      "{}: more than one XGBoost model file ({}): keep one, or name the one to serve xgboost-model",
      dir.string(), fmt::join(names, ", ")));
}

}  // namespace tandem::builtin::xgboost
