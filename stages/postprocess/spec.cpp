#include "stages/postprocess/spec.h"

#include <fmt/format.h>

#include <optional>

#include "stages/common/model_json.h"

namespace tandem::builtin::postprocess {
namespace {

using nlohmann::json;

std::optional<PostprocessSpec::Mode> read_mode(ModelJsonChecker& checker, const json& document) {
  const json* mode = checker.member(document, "", "mode", true);
  if (mode == nullptr) return std::nullopt;
  if (*mode == "threshold") return PostprocessSpec::Mode::threshold;
  if (*mode == "argmax") return PostprocessSpec::Mode::argmax;
  checker.report_expected("mode", "\"threshold\" or \"argmax\"", *mode);
  return std::nullopt;
}

// Threshold mode needs exactly two labels (negative, positive); argmax at least two.
void read_labels(ModelJsonChecker& checker, const json& document,
                 std::optional<PostprocessSpec::Mode> mode, PostprocessSpec& spec) {
  const json* labels = checker.member(document, "", "labels", true);
  if (labels == nullptr || !checker.is_array(*labels, "labels")) return;
  for (std::size_t i = 0; i < labels->size(); ++i) {
    if (auto label = checker.string((*labels)[i], json_path("labels", i))) {
      spec.labels.push_back(std::move(*label));
    }
  }
  if (mode == PostprocessSpec::Mode::threshold && labels->size() != 2) {
    checker.report("labels", fmt::format("expected 2 labels (below, at or above the threshold) "
                                         "for mode \"threshold\", got {}",
                                         labels->size()));
  } else if (mode == PostprocessSpec::Mode::argmax && labels->size() < 2) {
    checker.report("labels", fmt::format("expected at least 2 labels for mode \"argmax\", got {}",
                                         labels->size()));
  }
}

void read_threshold(ModelJsonChecker& checker, const json& document,
                    std::optional<PostprocessSpec::Mode> mode, PostprocessSpec& spec) {
  const json* threshold = checker.member(document, "", "threshold", false);
  if (threshold == nullptr) return;
  if (mode == PostprocessSpec::Mode::argmax) {
    checker.report("threshold", "only used with mode \"threshold\"; remove it for \"argmax\"");
    return;
  }
  if (auto value = checker.number(*threshold, "threshold")) spec.threshold = *value;
}

}  // namespace

PostprocessSpec parse_postprocess_spec(const json& document, std::string_view file) {
  ModelJsonChecker checker{std::string(file)};
  if (!checker.is_object(document, "")) checker.finish();
  checker.reject_unknown_keys(document, "", {"format", "mode", "threshold", "labels"});
  const json* format = checker.member(document, "", "format", true);
  if (format != nullptr &&
      (!format->is_string() || format->get<std::string>() != postprocess_format)) {
    checker.report_expected("format", fmt::format("\"{}\"", postprocess_format), *format);
  }
  PostprocessSpec spec;
  const auto mode = read_mode(checker, document);
  if (mode) spec.mode = *mode;
  read_labels(checker, document, mode, spec);
  read_threshold(checker, document, mode, spec);
  checker.finish();
  return spec;
}

PostprocessSpec load_postprocess_spec(const std::filesystem::path& file) {
  return parse_postprocess_spec(read_json_file(file), file.string());
}

}  // namespace tandem::builtin::postprocess
