// featurize.json: a fitted scikit-learn ColumnTransformer, as the exporter writes it (format
// "tandem-featurize/1"), validated at start-up. See docs/stages.md for the format.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tandem::builtin::featurize {

inline constexpr std::string_view featurize_format = "tandem-featurize/1";
inline constexpr std::string_view featurize_file_name = "featurize.json";

// SimpleImputer, fitted: the value each column's missing fields become.
struct ImputeStep {
  std::vector<std::variant<double, std::string>> fill;
};

// StandardScaler, fitted: (x - mean) / scale. Omitted means and scales are stored as 0 and 1,
// and a scale of 0 as 1, as scikit-learn does for constant columns.
struct ScaleStep {
  std::vector<double> mean;
  std::vector<double> scale;
};

// One column's categories, in output order: numbers match a field by value, strings by text.
struct Categories {
  bool numeric = false;
  std::size_t count = 0;
  std::map<double, std::size_t> numbers;                    // value -> output position
  std::map<std::string, std::size_t, std::less<>> strings;  // text -> output position
};

// OneHotEncoder, fitted, without `drop`: each column becomes one 0/1 column per category.
struct OneHotStep {
  std::vector<Categories> categories;
  bool ignore_unknown = false;  // handle_unknown "ignore": all zeros; "error": a 400
};

using Step = std::variant<ImputeStep, ScaleStep, OneHotStep>;

// One (name, Pipeline, columns) entry of the ColumnTransformer.
struct Transformer {
  std::string name;
  std::vector<std::size_t> columns;  // 0-based input column indexes
  std::vector<Step> steps;           // applied in order
};

struct FeaturizeSpec {
  std::size_t n_input_columns = 0;
  std::vector<std::string> input_columns;  // one name per column, or empty
  std::vector<Transformer> transformers;
  // remainder "passthrough": the columns no transformer uses, in input order, after the rest.
  std::vector<std::size_t> passthrough_columns;
};

// Validates `document`, naming `file` in every message; throws ModelFileError listing every
// problem (each with its JSON path: "transformers[1].steps[0].fill: expected 1 value, got 2").
FeaturizeSpec parse_featurize_spec(const nlohmann::json& document, std::string_view file);

// Reads and validates `file`; throws ModelFileError.
FeaturizeSpec load_featurize_spec(const std::filesystem::path& file);

}  // namespace tandem::builtin::featurize
