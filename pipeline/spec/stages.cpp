#include "pipeline/spec/stages.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <set>
#include <string_view>

#include "pipeline/spec/expand_env.h"
#include "pipeline/spec/values.h"

namespace tandem::spec {
namespace {

constexpr std::array<std::string_view, 13> kStageKeys = {
    "name",
    "command",
    "working_dir",
    "model_dir",
    "env",
    "secret_env",
    "transport",
    "content_type",
    "accept",
    "timeout_s",
    "startup_timeout_s",
    "max_inflight",
    "mount_model_dir",
};
constexpr std::array<std::string_view, 2> kBooleans = {"false", "true"};
constexpr std::array<std::string_view, 2> kTransports = {"http", "shm"};
// tandem sets these for every stage; a stage's own value would break its port assignment.
constexpr std::array<std::string_view, 2> kReservedEnv = {"SAGEMAKER_BIND_TO_PORT",
                                                          "SAGEMAKER_SAFE_PORT_RANGE"};
constexpr std::int64_t kMaxInflight = 1024;

constexpr std::string_view kContainerPrefix = "container-";

// A stage as read, with what the checks across stages need to point at.
struct ReadStage {
  StageSpec spec;
  Value where;
  bool is_map = false;
  std::optional<Value> name;  // the `name` value, when the stage has one
  bool name_is_valid = false;
};

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while ((start = text.find_first_not_of(" \t", start)) != std::string_view::npos) {
    const std::size_t end = std::min(text.find_first_of(" \t", start), text.size());
    words.push_back(text.substr(start, end - start));
    start = end;
  }
  return words;
}

void read_command(Context& ctx, const Value& value, std::vector<std::string>& command) {
  if (value.node.IsScalar()) {
    const auto words = split_words(value.node.Scalar());
    ctx.error(value.mark, value.path,
              fmt::format("expected a list of strings (the program and its arguments), got the "
                          "string {}; write it as a list: [{}]",
                          quote(value.node.Scalar()), fmt::join(words, ", ")));
    return;
  }
  if (!value.node.IsSequence() || value.node.size() == 0) {
    const std::string got = value.node.IsSequence() ? "an empty list" : describe(value.node);
    ctx.error(value.mark, value.path,
              fmt::format("expected a non-empty list of strings (the program and its "
                          "arguments), got {}",
                          got));
    return;
  }
  std::size_t index = 0;
  for (const YAML::Node& item : value.node) {
    const std::size_t position = index++;
    const Value argument = element(value, position, item);
    auto text = read_scalar(ctx, argument, "a string");
    if (!text) continue;
    // Arguments may be empty strings; the program may not.
    if (position == 0 && text->empty()) {
      ctx.error(argument.mark, argument.path, "must not be empty");
    }
    command.push_back(std::move(*text));
  }
}

void read_env(Context& ctx, const Value& value, std::map<std::string, std::string>& env) {
  const Fields fields(ctx, value, {});
  for (const Fields::Entry& entry : fields.entries()) {
    if (!is_env_name(entry.key)) {
      ctx.error(entry.key_mark, entry.value.path,
                "invalid environment variable name; use letters, digits and underscores, not "
                "starting with a digit");
    } else if (std::find(kReservedEnv.begin(), kReservedEnv.end(), entry.key) !=
               kReservedEnv.end()) {
      ctx.error(entry.key_mark, entry.value.path,
                "is set by tandem for every stage and cannot be overridden");
    } else if (auto text = read_scalar(ctx, entry.value, "a string, number or boolean")) {
      env[entry.key] = std::move(*text);
    }
  }
}

// Names whose values tandem never prints: each must be a valid variable name, listed once.
void read_secret_env(Context& ctx, const Value& value, std::set<std::string>& names) {
  if (!value.node.IsSequence()) {
    ctx.error(value.mark, value.path,
              proto::expected("a list of environment variable names", describe(value.node)));
    return;
  }
  std::size_t index = 0;
  for (const YAML::Node& item : value.node) {
    const Value name = element(value, index++, item);
    auto text = read_string(ctx, name);
    if (!text) continue;
    if (!is_env_name(*text)) {
      ctx.error(name.mark, name.path,
                fmt::format("expected an environment variable name (letters, digits and "
                            "underscores, not starting with a digit), got {}",
                            quote(*text)));
    } else if (!names.insert(*text).second) {
      ctx.error(name.mark, name.path, fmt::format("{} is listed twice", *text));
    }
  }
}

void read_transport(Context& ctx, const Value& value, Transport& transport) {
  const auto choice = read_choice(ctx, value, kTransports);
  if (!choice) return;
  transport = *choice == 0 ? Transport::http : Transport::shm;
}

template <typename T>
void assign(std::optional<T> read, T& field) {
  if (read) field = std::move(*read);
}

template <typename T>
void assign(std::optional<T> read, std::optional<T>& field) {
  if (read) field = std::move(*read);
}

void read_stage_fields(Context& ctx, const Fields& fields, const std::filesystem::path& base_dir,
                       StageSpec& stage) {
  if (auto v = fields.require("command")) {
    read_command(ctx, *v, stage.command);
    // YAML marks are 0-based, -1 when unknown.
    stage.command_line = v->mark.line + 1;
    stage.command_column = v->mark.column + 1;
  }
  if (auto v = fields.get("working_dir")) assign(read_path(ctx, *v, base_dir), stage.working_dir);
  if (auto v = fields.get("model_dir")) assign(read_path(ctx, *v, base_dir), stage.model_dir);
  if (auto v = fields.get("env")) read_env(ctx, *v, stage.env);
  if (auto v = fields.get("secret_env")) read_secret_env(ctx, *v, stage.secret_env);
  if (auto v = fields.get("transport")) read_transport(ctx, *v, stage.transport);
  if (auto v = fields.get("content_type")) assign(read_header_value(ctx, *v), stage.content_type);
  if (auto v = fields.get("accept")) assign(read_header_value(ctx, *v), stage.accept);
  if (auto v = fields.get("timeout_s")) assign(read_seconds(ctx, *v, false), stage.timeout);
  if (auto v = fields.get("startup_timeout_s")) {
    assign(read_seconds(ctx, *v, false), stage.startup_timeout);
  }
  if (auto v = fields.get("max_inflight")) {
    if (auto n = read_integer(ctx, *v, 1, kMaxInflight)) {
      stage.max_inflight = static_cast<std::uint32_t>(*n);
    }
  }
  if (auto v = fields.get("mount_model_dir")) {
    if (auto choice = read_choice(ctx, *v, kBooleans)) stage.mount_model_dir = *choice == 1;
    if (stage.mount_model_dir && !fields.get("model_dir")) {
      ctx.error(v->mark, v->path,
                "mount_model_dir: true needs a model_dir to mount at /opt/ml/model");
    }
  }
}

ReadStage read_stage(Context& ctx, const Value& value, std::size_t index,
                     const std::filesystem::path& base_dir) {
  ReadStage stage{.where = value};
  stage.spec.container = fmt::format("{}{}", kContainerPrefix, index + 1);
  stage.spec.name = stage.spec.container;
  stage.spec.working_dir = base_dir.string();
  const Fields fields(ctx, value, kStageKeys);
  stage.is_map = fields.is_map();
  if (!stage.is_map) return stage;
  stage.name = fields.get("name");
  if (stage.name) {
    auto name = read_sagemaker_name(ctx, *stage.name);
    stage.name_is_valid = name.has_value();
    assign(std::move(name), stage.spec.name);
  }
  read_stage_fields(ctx, fields, base_dir, stage.spec);
  return stage;
}

// SageMaker's rule: hostnames for every container or for none.
void check_all_or_none_named(Context& ctx, const Value& stages,
                             const std::vector<ReadStage>& read) {
  std::vector<std::string> unnamed;
  const ReadStage* first_unnamed = nullptr;
  bool any_named = false;
  for (std::size_t i = 0; i < read.size(); ++i) {
    if (!read[i].is_map) continue;
    any_named = any_named || read[i].name.has_value();
    if (read[i].name) continue;
    unnamed.push_back(fmt::format("{}[{}] ({})", stages.path, i, read[i].spec.container));
    if (first_unnamed == nullptr) first_unnamed = &read[i];
  }
  if (!any_named || unnamed.empty()) return;
  ctx.error(first_unnamed->where.mark, stages.path,
            fmt::format("either every stage has a name or none does; {} {} no name",
                        fmt::join(unnamed, ", "), unnamed.size() == 1 ? "has" : "have"));
}

// The 1-based position N when `name` is "container-N", else 0.
std::size_t container_number(std::string_view name) {
  if (!name.starts_with(kContainerPrefix)) return 0;
  const std::string_view digits = name.substr(kContainerPrefix.size());
  std::size_t number = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  return ec == std::errc{} && end == digits.data() + digits.size() ? number : 0;
}

void check_unique_names(Context& ctx, const Value& stages, const std::vector<ReadStage>& read) {
  std::map<std::string, std::size_t> first_with_name;
  for (std::size_t i = 0; i < read.size(); ++i) {
    if (!read[i].name_is_valid) continue;
    const std::string& name = read[i].spec.name;
    const Value& where = *read[i].name;
    const auto [first, inserted] = first_with_name.emplace(name, i);
    if (!inserted) {
      ctx.error(where.mark, where.path,
                fmt::format("duplicate stage name \"{}\"; {}[{}] has it too", name, stages.path,
                            first->second));
    }
    const std::size_t number = container_number(name);
    if (number != 0 && number != i + 1 && number <= read.size()) {
      ctx.error(where.mark, where.path,
                fmt::format("\"{}\" is the container name of {}[{}]; choose another name", name,
                            stages.path, number - 1));
    }
  }
}

}  // namespace

std::vector<StageSpec> read_stages(Context& ctx, const Value& stages,
                                   const std::filesystem::path& base_dir) {
  if (!stages.node.IsSequence()) {
    ctx.error(stages.mark, stages.path, proto::expected("a list of stages", describe(stages.node)));
    return {};
  }
  const std::size_t count = stages.node.size();
  if (count == 0 || count > kMaxStages) {
    ctx.error(stages.mark, stages.path,
              fmt::format("must have 1 to {} stages, got {}", kMaxStages, count));
  }
  std::vector<ReadStage> read;
  for (const YAML::Node& item : stages.node) {
    read.push_back(read_stage(ctx, element(stages, read.size(), item), read.size(), base_dir));
  }
  check_all_or_none_named(ctx, stages, read);
  check_unique_names(ctx, stages, read);
  std::vector<StageSpec> specs;
  for (ReadStage& stage : read) specs.push_back(std::move(stage.spec));
  return specs;
}

}  // namespace tandem::spec
