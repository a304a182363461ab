// Where a stage's program is found. tandem finds its own built-in stages (`tandem-*`) beside the
// running `tandem` executable, or in the install prefix's libexec/tandem, before PATH, so a
// spec runs from the build tree or after `cmake --install` with no PATH set up; everything else
// is looked up on tandem's PATH, as execvp would. `tandem validate` prints the result, every
// command of a spec is checked before anything starts, and the supervisor executes the file
// found here.
#pragma once

#include <string>
#include <vector>

#include "pipeline/spec/spec.h"

namespace tandem::spec {

struct CommandSearch {
  std::string tandem_dir;       // the folder of the running tandem executable; "" when unknown
  std::string path;             // the PATH searched for commands without a slash
  static CommandSearch here();  // /proc/self/exe's folder and this process's PATH
};

struct ResolvedCommand {
  std::string program;  // the file to execute; empty when none was found
  // "beside tandem", "libexec", "PATH", "in working_dir", "in model_dir", "as written"; or why
  // none was found
  std::string how;
  bool found() const { return !program.empty(); }
};

// Resolves `stage.command[0]`: a name with a slash is a path (relative ones against the stage's
// working_dir; under /opt/ml/model, against model_dir when mount_model_dir is on); a `tandem-*`
// name is looked for beside tandem, then in <prefix>/libexec/tandem, then on PATH; any other
// name on PATH. The file found must be a regular file this process may execute.
ResolvedCommand resolve_command(const StageSpec& stage, const CommandSearch& search);

// One error per stage whose command resolves nowhere, at the command's place in the spec.
std::vector<SpecError> command_errors(const PipelineSpec& spec, const CommandSearch& search);

}  // namespace tandem::spec
