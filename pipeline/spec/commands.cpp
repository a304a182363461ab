#include "pipeline/spec/commands.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string_view>

namespace tandem::spec {
namespace {

namespace fs = std::filesystem;

// glibc's execvp searches this when PATH is unset.
constexpr std::string_view default_path = "/bin:/usr/bin";
constexpr std::string_view builtin_prefix = "tandem-";

// Why `file` cannot be executed, or "" when it can.
std::string unusable(const std::string& file) {
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) return "no such file";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (access(file.c_str(), X_OK) != 0) return "not executable (no execute permission)";
  return "";
}

bool executable(const std::string& file) {
  return unusable(file).empty();
}

// The first executable `name` in the folders of `path`; a relative folder (an empty entry is
// ".") is relative to `base`, the folder the program is executed from.
std::string on_path(const std::string& name, std::string_view path, const std::string& base) {
  while (true) {
    const std::size_t colon = path.find(':');
    fs::path folder(path.substr(0, colon));
    if (folder.empty()) folder = ".";
    if (folder.is_relative() && !base.empty()) folder = fs::path(base) / folder;
    const std::string candidate = (folder / name).lexically_normal().string();
    if (executable(candidate)) return candidate;
    if (colon == std::string_view::npos) return "";
    path.remove_prefix(colon + 1);
  }
}

ResolvedCommand resolve_path(const StageSpec& stage, const std::string& written) {
  const std::string_view mount(model_mount_point);
  if (stage.mount_model_dir && stage.model_dir && written.starts_with(mount) &&
      (written.size() == mount.size() || written[mount.size()] == '/')) {
    // Inside the stage's mount namespace /opt/ml/model is model_dir: executed as written.
    const std::string file = *stage.model_dir + written.substr(mount.size());
    const std::string why = unusable(file);
    if (!why.empty()) return {"", fmt::format("{}: {}", file, why)};
    return {written, "in model_dir"};
  }
  if (written.starts_with('/')) {
    const std::string why = unusable(written);
    if (!why.empty()) return {"", why};
    return {written, "as written"};
  }
  // Executed from working_dir, so the same file by its absolute name.
  std::error_code error;
  const fs::path base =
      stage.working_dir.empty() ? fs::current_path(error) : fs::path(stage.working_dir);
  const std::string file = (base / written).lexically_normal().string();
  const std::string why = unusable(file);
  if (!why.empty()) return {"", fmt::format("{}: {}", file, why)};
  return {file, "in working_dir"};
}

}  // namespace

CommandSearch CommandSearch::here() {
  CommandSearch search;
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (!error) search.tandem_dir = self.parent_path().string();
  const char* path = std::getenv("PATH");
  search.path = path ? path : std::string(default_path);
  return search;
}

ResolvedCommand resolve_command(const StageSpec& stage, const CommandSearch& search) {
  if (stage.command.empty() || stage.command[0].empty()) return {"", "no command"};
  const std::string& name = stage.command[0];
  if (name.find('/') != std::string::npos) return resolve_path(stage, name);
  std::vector<std::string> looked;
  if (name.starts_with(builtin_prefix) && !search.tandem_dir.empty()) {
    const std::string beside = search.tandem_dir + "/" + name;
    if (executable(beside)) return {beside, "beside tandem"};
    const std::string libexec =
        (fs::path(search.tandem_dir).parent_path() / "libexec" / "tandem" / name).string();
    if (executable(libexec)) return {libexec, "libexec"};
    looked.push_back(search.tandem_dir);
    looked.push_back(fs::path(libexec).parent_path().string());
  }
  const std::string found = on_path(name, search.path, stage.working_dir);
  if (!found.empty()) return {found, "PATH"};
  looked.push_back("PATH");
  return {"", fmt::format("not found in {}", fmt::join(looked, ", "))};
}

std::vector<SpecError> command_errors(const PipelineSpec& spec, const CommandSearch& search) {
  std::vector<SpecError> errors;
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& stage = spec.stages[i];
    const ResolvedCommand resolved = resolve_command(stage, search);
    if (resolved.found()) continue;
    errors.push_back(SpecError{
        .file = spec.source,
        .line = stage.command_line,
        .column = stage.command_column,
        .path = fmt::format("stages[{}].command", i),
        .message = fmt::format("stage '{}': cannot run '{}': {}", stage.name,
                               stage.command.empty() ? "" : stage.command[0], resolved.how)});
  }
  return errors;
}

}  // namespace tandem::spec
