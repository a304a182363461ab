// postprocess.json (format "tandem-postprocess/1"): how scores become labels, validated at
// start-up. See docs/stages.md for the format.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::builtin::postprocess {

inline constexpr std::string_view postprocess_format = "tandem-postprocess/1";
inline constexpr std::string_view postprocess_file_name = "postprocess.json";

struct PostprocessSpec {
  enum class Mode {
    threshold,  // one score per row: labels[1] when score >= threshold, else labels[0]
    argmax,     // one score per label: the label with the highest score, the first on ties
  };
  Mode mode = Mode::threshold;
  double threshold = 0.5;
  std::vector<std::string> labels;
};

// Validates `document`, naming `file` in every message; throws ModelFileError listing every
// problem with its JSON path.
PostprocessSpec parse_postprocess_spec(const nlohmann::json& document, std::string_view file);

// Reads and validates `file`; throws ModelFileError.
PostprocessSpec load_postprocess_spec(const std::filesystem::path& file);

}  // namespace tandem::builtin::postprocess
