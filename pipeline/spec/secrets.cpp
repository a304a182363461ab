// Which stage environment values tandem keeps out of its logs and reports (docs/security.md).
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "pipeline/spec/spec.h"

namespace tandem::spec {
namespace {

// Credentials tandem itself reads (docs/storage.md): secret even when no secret_env says so.
constexpr std::array<std::string_view, 3> kAlwaysSecret = {
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"};

}  // namespace

bool is_always_secret(std::string_view name) {
  return std::find(kAlwaysSecret.begin(), kAlwaysSecret.end(), name) != kAlwaysSecret.end();
}

bool is_secret(const StageSpec& stage, std::string_view name) {
  return is_always_secret(name) || stage.secret_env.contains(std::string(name));
}

std::string describe_env(const StageSpec& stage, const std::map<std::string, std::string>& env) {
  std::string text;
  for (const auto& [name, value] : env) {
    if (!text.empty()) text += ' ';
    text += is_secret(stage, name) ? fmt::format("{}=<secret>", name)
                                   : fmt::format("{}={}", name, value);
  }
  return text;
}

std::set<std::string> secret_env_names(const PipelineSpec& spec) {
  std::set<std::string> names(kAlwaysSecret.begin(), kAlwaysSecret.end());
  for (const StageSpec& stage : spec.stages)
    names.insert(stage.secret_env.begin(), stage.secret_env.end());
  return names;
}

}  // namespace tandem::spec
