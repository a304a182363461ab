// Finding a stage's program: built-in stages beside tandem or in libexec before PATH, other
// names on PATH only, paths against working_dir or model_dir, and the errors naming the stage.
#include "pipeline/spec/commands.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

namespace tandem::spec {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tandem-commands-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& relative) const { return (path_ / relative).string(); }

 private:
  fs::path path_;
};

// A file at `path` with mode `mode`, its folders created.
void touch(const std::string& path, mode_t mode = 0755) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "#!/bin/sh\n";
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

StageSpec stage(std::vector<std::string> command, std::string working_dir = "") {
  StageSpec s;
  s.name = "model";
  s.container = "container-1";
  s.command = std::move(command);
  s.working_dir = std::move(working_dir);
  return s;
}

TEST_CASE("a tandem-* command is found beside tandem before PATH", "[spec][commands]") {
  TempDir dir;
  touch(dir / "bin/tandem-model");
  touch(dir / "elsewhere/tandem-model");
  const CommandSearch search{dir / "bin", dir / "elsewhere"};
  const auto found = resolve_command(stage({"tandem-model", "serve"}), search);
  CHECK(found.program == dir / "bin/tandem-model");
  CHECK(found.how == "beside tandem");
}

TEST_CASE("then in the install prefix's libexec/tandem, then on PATH", "[spec][commands]") {
  TempDir dir;
  fs::create_directories(dir / "prefix/bin");
  touch(dir / "prefix/libexec/tandem/tandem-model");
  touch(dir / "path/tandem-other");
  const CommandSearch search{dir / "prefix/bin", dir / "path"};
  const auto libexec = resolve_command(stage({"tandem-model"}), search);
  CHECK(libexec.program == dir / "prefix/libexec/tandem/tandem-model");
  CHECK(libexec.how == "libexec");
  const auto on_path = resolve_command(stage({"tandem-other"}), search);
  CHECK(on_path.program == dir / "path/tandem-other");
  CHECK(on_path.how == "PATH");
}

TEST_CASE("other names are looked up on PATH only, in order", "[spec][commands]") {
  TempDir dir;
  touch(dir / "bin/gunicorn");  // beside tandem: not a built-in stage, so not taken from there
  touch(dir / "second/gunicorn");
  touch(dir / "first/gunicorn", 0644);  // not executable: skipped, as execvp does
  const CommandSearch search{dir / "bin", dir / "first" + ":" + dir / "second"};
  const auto found = resolve_command(stage({"gunicorn"}), search);
  CHECK(found.program == dir / "second/gunicorn");
  CHECK(found.how == "PATH");
}

TEST_CASE("a relative PATH entry is relative to the stage's working_dir", "[spec][commands]") {
  TempDir dir;
  touch(dir / "app/tools/serve");
  const CommandSearch search{"", "tools"};
  CHECK(resolve_command(stage({"serve"}, dir / "app"), search).program == dir / "app/tools/serve");
}

TEST_CASE("a command with a slash is a path, relative ones in working_dir", "[spec][commands]") {
  TempDir dir;
  touch(dir / "app/serve.sh");
  const CommandSearch search{dir / "bin", ""};
  const auto relative = resolve_command(stage({"./serve.sh"}, dir / "app"), search);
  CHECK(relative.program == dir / "app/serve.sh");
  CHECK(relative.how == "in working_dir");
  const auto absolute = resolve_command(stage({dir / "app/serve.sh"}), search);
  CHECK(absolute.program == dir / "app/serve.sh");
  CHECK(absolute.how == "as written");
  const auto missing = resolve_command(stage({"./gone.sh"}, dir / "app"), search);
  CHECK_FALSE(missing.found());
  CHECK(missing.how == dir / "app/gone.sh" + ": no such file");
}

TEST_CASE("a program under /opt/ml/model is checked in model_dir", "[spec][commands]") {
  TempDir dir;
  touch(dir / "model/serve");
  StageSpec s = stage({"/opt/ml/model/serve"});
  s.model_dir = dir / "model";
  s.mount_model_dir = true;
  const auto found = resolve_command(s, CommandSearch{"", ""});
  CHECK(found.program == "/opt/ml/model/serve");  // executed inside the stage's namespace
  CHECK(found.how == "in model_dir");
  s.command = {"/opt/ml/model/other"};
  CHECK(resolve_command(s, CommandSearch{"", ""}).how == dir / "model/other" + ": no such file");
}

TEST_CASE("what is wrong with a file that is found", "[spec][commands]") {
  TempDir dir;
  touch(dir / "plain", 0644);
  fs::create_directories(dir / "folder");
  CHECK(resolve_command(stage({dir / "plain"}), {}).how ==
        "not executable (no execute permission)");
  CHECK(resolve_command(stage({dir / "folder"}), {}).how == "not a regular file");
}

TEST_CASE("command_errors names the stage, the spec's place and where it looked",
          "[spec][commands]") {
  TempDir dir;
  fs::create_directories(dir / "bin");
  PipelineSpec spec;
  spec.source = "pipeline.yaml";
  spec.stages = {stage({"/bin/sh"}), stage({"tandem-nowhere", "serve"})};
  spec.stages[1].name = "post";
  spec.stages[1].command_line = 9;
  spec.stages[1].command_column = 14;
  const auto errors = command_errors(spec, CommandSearch{dir / "bin", dir / "empty"});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].to_string() ==
        "pipeline.yaml:9:14: stages[1].command: stage 'post': cannot run 'tandem-nowhere': not "
        "found in " +
            dir / "bin" + ", " + dir / "libexec/tandem" + ", PATH");
}

}  // namespace
}  // namespace tandem::spec
