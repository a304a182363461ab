#include "stages/featurize/spec.h"

#include <fmt/format.h>

#include <optional>

#include "stages/common/model_json.h"

namespace tandem::builtin::featurize {
namespace {

using nlohmann::json;

// Beyond this a spec is surely not a tabular featurizer, and a typo would allocate gigabytes.
constexpr std::size_t max_columns = 1'000'000;

std::string plural(std::size_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

// Reads the steps of one transformer. Each step's shape depends on the width (number of
// columns) the steps before it produce, so checking stops at a step whose width is unknown.
class StepReader {
 public:
  explicit StepReader(ModelJsonChecker& checker) : checker_(checker) {}

  std::optional<Step> read(const json& step, const std::string& path, std::size_t& width) {
    if (!checker_.is_object(step, path)) return std::nullopt;
    const json* type = checker_.member(step, path, "type", true);
    if (type == nullptr) return std::nullopt;
    const auto name = checker_.string(*type, json_path(path, "type"));
    if (!name) return std::nullopt;
    if (*name == "impute") return impute(step, path, width);
    if (*name == "scale") return scale(step, path, width);
    if (*name == "onehot") return onehot(step, path, width);
    checker_.report(
        json_path(path, "type"),
        fmt::format("unknown step type \"{}\" (expected impute, scale or onehot)", *name));
    return std::nullopt;
  }

 private:
  std::optional<Step> impute(const json& step, const std::string& path, std::size_t width) {
    checker_.reject_unknown_keys(step, path, {"type", "fill"});
    const json* fill = checker_.member(step, path, "fill", true);
    const auto fill_path = json_path(path, "fill");
    if (fill == nullptr || !checker_.is_array(*fill, fill_path)) return std::nullopt;
    if (fill->size() != width) {
      checker_.report(fill_path,
                      fmt::format("expected {}, got {}", plural(width, "value"), fill->size()));
      return std::nullopt;
    }
    ImputeStep result;
    for (std::size_t i = 0; i < fill->size(); ++i) {
      const json& value = (*fill)[i];
      if (value.is_number()) {
        result.fill.emplace_back(value.get<double>());
      } else if (value.is_string()) {
        result.fill.emplace_back(value.get<std::string>());
      } else {
        checker_.report_expected(json_path(fill_path, i), "a number or a string", value);
      }
    }
    if (result.fill.size() != width) return std::nullopt;
    return result;
  }

  std::optional<Step> scale(const json& step, const std::string& path, std::size_t width) {
    checker_.reject_unknown_keys(step, path, {"type", "mean", "scale"});
    ScaleStep result{std::vector<double>(width, 0.0), std::vector<double>(width, 1.0)};
    bool ok = true;
    if (const json* mean = checker_.member(step, path, "mean", false)) {
      auto values = checker_.numbers(*mean, json_path(path, "mean"), width);
      ok = values.has_value();
      if (values) result.mean = std::move(*values);
    }
    if (const json* scale = checker_.member(step, path, "scale", false)) {
      auto values = checker_.numbers(*scale, json_path(path, "scale"), width);
      ok = ok && values.has_value();
      if (values) result.scale = std::move(*values);
    }
    for (double& scale : result.scale) {
      if (scale == 0) scale = 1;  // StandardScaler leaves zero-variance columns unscaled
    }
    if (!ok) return std::nullopt;
    return result;
  }

  std::optional<Categories> categories(const json& list, const std::string& path) {
    if (!checker_.is_array(list, path)) return std::nullopt;
    if (list.empty()) {
      checker_.report(path, "expected at least 1 category, got none");
      return std::nullopt;
    }
    Categories result;
    result.numeric = list[0].is_number();
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json& value = list[i];
      const auto value_path = json_path(path, i);
      if (result.numeric ? !value.is_number() : !value.is_string()) {
        checker_.report_expected(value_path,
                                 result.numeric ? "a number like the first category"
                                                : "a string like the first category",
                                 value);
        return std::nullopt;
      }
      const bool added = result.numeric
                             ? result.numbers.emplace(value.get<double>(), i).second
                             : result.strings.emplace(value.get<std::string>(), i).second;
      if (!added) {
        checker_.report(value_path, fmt::format("{} appears twice", describe_json(value)));
        return std::nullopt;
      }
    }
    result.count = list.size();
    return result;
  }

  std::optional<Step> onehot(const json& step, const std::string& path, std::size_t& width) {
    checker_.reject_unknown_keys(step, path, {"type", "categories", "handle_unknown", "drop"});
    OneHotStep result;
    const json* drop = checker_.member(step, path, "drop", false);
    if (drop != nullptr && !drop->is_null()) {
      checker_.report(json_path(path, "drop"),
                      fmt::format("not supported (got {}): export the encoder with drop=None",
                                  describe_json(*drop)));
    }
    if (const json* handle = checker_.member(step, path, "handle_unknown", false)) {
      const auto mode = checker_.string(*handle, json_path(path, "handle_unknown"));
      if (mode && *mode != "ignore" && *mode != "error") {
        checker_.report(json_path(path, "handle_unknown"),
                        fmt::format("expected \"ignore\" or \"error\", got \"{}\"", *mode));
      }
      result.ignore_unknown = mode == "ignore";
    }
    const json* lists = checker_.member(step, path, "categories", true);
    const auto lists_path = json_path(path, "categories");
    if (lists == nullptr || !checker_.is_array(*lists, lists_path)) return std::nullopt;
    if (lists->size() != width) {
      checker_.report(lists_path, fmt::format("expected {} (one per column), got {}",
                                              plural(width, "list"), lists->size()));
      return std::nullopt;
    }
    std::size_t out_width = 0;
    for (std::size_t i = 0; i < lists->size(); ++i) {
      auto column = categories((*lists)[i], json_path(lists_path, i));
      if (!column) return std::nullopt;
      out_width += column->count;
      result.categories.push_back(std::move(*column));
    }
    width = out_width;
    return result;
  }

  ModelJsonChecker& checker_;
};

std::optional<std::vector<std::size_t>> read_columns(ModelJsonChecker& checker, const json& object,
                                                     const std::string& path,
                                                     std::size_t n_input_columns) {
  const json* columns = checker.member(object, path, "columns", true);
  const auto columns_path = json_path(path, "columns");
  if (columns == nullptr || !checker.is_array(*columns, columns_path)) return std::nullopt;
  if (columns->empty()) {
    checker.report(columns_path, "expected at least 1 column, got none");
    return std::nullopt;
  }
  std::vector<std::size_t> result;
  for (std::size_t i = 0; i < columns->size(); ++i) {
    const auto index =
        checker.whole_number((*columns)[i], json_path(columns_path, i), 0, n_input_columns - 1);
    if (index) result.push_back(*index);
  }
  if (result.size() != columns->size()) return std::nullopt;
  return result;
}

std::optional<Transformer> read_transformer(ModelJsonChecker& checker, const json& object,
                                            const std::string& path, std::size_t n_input_columns) {
  if (!checker.is_object(object, path)) return std::nullopt;
  checker.reject_unknown_keys(object, path, {"name", "columns", "steps"});
  Transformer transformer;
  if (const json* name = checker.member(object, path, "name", false)) {
    transformer.name = checker.string(*name, json_path(path, "name")).value_or("");
  }
  auto columns = read_columns(checker, object, path, n_input_columns);
  const json* steps = checker.member(object, path, "steps", true);
  const auto steps_path = json_path(path, "steps");
  if (steps == nullptr || !checker.is_array(*steps, steps_path)) return std::nullopt;
  // The steps' sizes depend only on how many columns there are, so they are checked even when
  // a column index is wrong.
  const auto listed = object.find("columns");
  std::size_t width = listed != object.end() && listed->is_array() ? listed->size() : 0;
  StepReader reader(checker);
  for (std::size_t i = 0; width > 0 && i < steps->size(); ++i) {
    auto step = reader.read((*steps)[i], json_path(steps_path, i), width);
    if (!step) return std::nullopt;
    transformer.steps.push_back(std::move(*step));
  }
  if (!columns) return std::nullopt;
  transformer.columns = std::move(*columns);
  return transformer;
}

std::optional<std::vector<std::string>> read_names(ModelJsonChecker& checker, const json& names,
                                                   std::size_t n_input_columns) {
  if (!checker.is_array(names, "input_columns")) return std::nullopt;
  if (names.size() != n_input_columns) {
    checker.report("input_columns", fmt::format("expected {} (n_input_columns), got {}",
                                                plural(n_input_columns, "name"), names.size()));
    return std::nullopt;
  }
  std::vector<std::string> result;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (auto name = checker.string(names[i], json_path("input_columns", i))) {
      result.push_back(std::move(*name));
    }
  }
  if (result.size() != n_input_columns) return std::nullopt;
  return result;
}

std::vector<std::size_t> unused_columns(const FeaturizeSpec& spec) {
  std::vector<bool> used(spec.n_input_columns, false);
  for (const auto& transformer : spec.transformers) {
    for (const auto column : transformer.columns) used[column] = true;
  }
  std::vector<std::size_t> unused;
  for (std::size_t column = 0; column < used.size(); ++column) {
    if (!used[column]) unused.push_back(column);
  }
  return unused;
}

void read_format(ModelJsonChecker& checker, const json& document) {
  const json* format = checker.member(document, "", "format", true);
  if (format != nullptr &&
      (!format->is_string() || format->get<std::string>() != featurize_format)) {
    checker.report_expected("format", fmt::format("\"{}\"", featurize_format), *format);
  }
}

// true for "passthrough", false for "drop" (scikit-learn's default).
bool read_remainder(ModelJsonChecker& checker, const json& document) {
  const json* remainder = checker.member(document, "", "remainder", false);
  if (remainder == nullptr || *remainder == "drop") return false;
  if (*remainder == "passthrough") return true;
  checker.report_expected("remainder", "\"drop\" or \"passthrough\"", *remainder);
  return false;
}

}  // namespace

FeaturizeSpec parse_featurize_spec(const json& document, std::string_view file) {
  ModelJsonChecker checker{std::string(file)};
  if (!checker.is_object(document, "")) checker.finish();
  checker.reject_unknown_keys(
      document, "", {"format", "n_input_columns", "input_columns", "transformers", "remainder"});
  read_format(checker, document);
  FeaturizeSpec spec;
  const json* n_columns = checker.member(document, "", "n_input_columns", true);
  if (n_columns != nullptr) {
    spec.n_input_columns =
        checker.whole_number(*n_columns, "n_input_columns", 1, max_columns).value_or(0);
  }
  // Column indexes and names are checked against n_input_columns: only once it is known.
  if (spec.n_input_columns > 0) {
    if (const json* names = checker.member(document, "", "input_columns", false)) {
      spec.input_columns =
          read_names(checker, *names, spec.n_input_columns).value_or(std::vector<std::string>{});
    }
    const json* transformers = checker.member(document, "", "transformers", true);
    if (transformers != nullptr && checker.is_array(*transformers, "transformers")) {
      for (std::size_t i = 0; i < transformers->size(); ++i) {
        auto transformer = read_transformer(checker, (*transformers)[i],
                                            json_path("transformers", i), spec.n_input_columns);
        if (transformer) spec.transformers.push_back(std::move(*transformer));
      }
    }
  }
  const bool passthrough = read_remainder(checker, document);
  if (!checker.failed() && spec.transformers.empty() && !passthrough) {
    checker.report("transformers", "expected at least 1 transformer when remainder is \"drop\"");
  }
  checker.finish();
  if (passthrough) spec.passthrough_columns = unused_columns(spec);
  return spec;
}

FeaturizeSpec load_featurize_spec(const std::filesystem::path& file) {
  return parse_featurize_spec(read_json_file(file), file.string());
}

}  // namespace tandem::builtin::featurize
