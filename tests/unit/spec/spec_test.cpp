// Loading valid specs: parsed values, defaults, path resolution, and the file loader.
#include "pipeline/spec/spec.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

namespace tandem::spec {
namespace {

using namespace std::chrono_literals;

std::optional<std::string> no_env(const std::string&) {
  return std::nullopt;
}

PipelineSpec load(const std::string& yaml) {
  return load_spec_text(yaml, "pipeline.yaml", "/srv/app", no_env);
}

// A fresh directory under the system temp folder, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tandem-spec-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

constexpr const char* kFullSpec = R"(name: churn
mode: direct
server:
  host: 127.0.0.1
  port: 0
  max_payload_mb: 0.5
  stage_payload_mb: 10
  invocation_timeout_s: 1.5
  request_read_timeout_s: 2.5
  max_concurrent_invocations: 100
  stage_port_range: 20000-20010
  stage_safe_ports: 3
  drain_timeout_s: 0
  stage_stop_timeout_s: 2.25
execution_parameters:
  max_concurrent_transforms: 4
  batch_strategy: SINGLE_RECORD
  max_payload_mb: 0
stages:
  - name: featurize
    command: [python3, featurizer.py, serve]
    working_dir: .
    model_dir: models/featurizer
    env: {MODE: fast, THREADS: 4, DEBUG: true, RATIO: 1.50, EMPTY: ""}
    transport: http
    content_type: text/csv
    accept: application/json
    timeout_s: 0.25
    startup_timeout_s: 30
    max_inflight: 2
  - name: model
    command: [./bin/model, ""]
    working_dir: /opt/model
)";

TEST_CASE("a spec with every key is parsed into its values", "[spec]") {
  const PipelineSpec spec = load(kFullSpec);
  CHECK(spec.name == "churn");
  CHECK(spec.mode == Mode::direct);
  CHECK(spec.source == "pipeline.yaml");

  const ServerSpec& server = spec.server;
  CHECK(server.host == "127.0.0.1");
  CHECK(server.port == 0);
  CHECK(server.max_payload_bytes == 512u * 1024);
  CHECK(server.stage_payload_bytes == 10u * 1024 * 1024);
  CHECK(server.invocation_timeout == 1500ms);
  CHECK(server.request_read_timeout == 2500ms);
  CHECK(server.max_concurrent_invocations == 100);
  CHECK(server.stage_port_range.low == 20000);
  CHECK(server.stage_port_range.high == 20010);
  CHECK(server.stage_safe_ports == 3);
  CHECK(server.drain_timeout == 0ms);
  CHECK(server.stage_stop_timeout == 2250ms);

  CHECK(spec.execution_parameters.max_concurrent_transforms == 4u);
  CHECK(spec.execution_parameters.batch_strategy == "SINGLE_RECORD");
  CHECK(spec.execution_parameters.max_payload_mb == 0u);

  REQUIRE(spec.stages.size() == 2);
  const StageSpec& featurize = spec.stages[0];
  CHECK(featurize.name == "featurize");
  CHECK(featurize.container == "container-1");
  CHECK(featurize.command == std::vector<std::string>{"python3", "featurizer.py", "serve"});
  CHECK(featurize.working_dir == "/srv/app");
  CHECK(featurize.model_dir == "/srv/app/models/featurizer");
  CHECK(
      featurize.env ==
      std::map<std::string, std::string>{
          {"MODE", "fast"}, {"THREADS", "4"}, {"DEBUG", "true"}, {"RATIO", "1.50"}, {"EMPTY", ""}});
  CHECK(featurize.transport == Transport::http);
  CHECK(featurize.content_type == "text/csv");
  CHECK(featurize.accept == "application/json");
  CHECK(featurize.timeout == 250ms);
  CHECK(featurize.startup_timeout == 30'000ms);
  CHECK(featurize.max_inflight == 2);

  const StageSpec& model = spec.stages[1];
  CHECK(model.name == "model");
  CHECK(model.container == "container-2");
  CHECK(model.command == std::vector<std::string>{"./bin/model", ""});
  CHECK(model.working_dir == "/opt/model");
  CHECK_FALSE(model.model_dir.has_value());
}

TEST_CASE("a minimal spec takes every default", "[spec]") {
  const PipelineSpec spec = load("name: churn\nstages:\n  - command: [serve]\n");
  CHECK(spec.mode == Mode::serial);
  const ServerSpec& server = spec.server;
  CHECK(server.host == "0.0.0.0");
  CHECK(server.port == 8080);
  CHECK(server.max_payload_bytes == 6'291'456u);
  CHECK(server.stage_payload_bytes == 6'291'456u);
  CHECK(server.invocation_timeout == 60'000ms);
  CHECK(server.request_read_timeout == 60'000ms);
  CHECK(server.max_concurrent_invocations == 64);
  CHECK(server.stage_port_range.to_string() == "9000-9999");
  CHECK(server.stage_safe_ports == 4);
  CHECK(server.drain_timeout == 30'000ms);
  CHECK(server.stage_stop_timeout == 30'000ms);
  CHECK_FALSE(spec.execution_parameters.max_concurrent_transforms.has_value());
  CHECK_FALSE(spec.execution_parameters.batch_strategy.has_value());
  CHECK_FALSE(spec.execution_parameters.max_payload_mb.has_value());

  REQUIRE(spec.stages.size() == 1);
  const StageSpec& stage = spec.stages[0];
  CHECK(stage.name == "container-1");
  CHECK(stage.container == "container-1");
  CHECK(stage.working_dir == "/srv/app");
  CHECK_FALSE(stage.model_dir.has_value());
  CHECK(stage.env.empty());
  CHECK(stage.transport == Transport::http);
  CHECK_FALSE(stage.content_type.has_value());
  CHECK_FALSE(stage.accept.has_value());
  CHECK(stage.timeout == 60'000ms);
  CHECK(stage.startup_timeout == 240'000ms);
  CHECK(stage.max_inflight == 8);
}

TEST_CASE("unnamed stages are called container-1, container-2, ...", "[spec]") {
  const PipelineSpec spec =
      load("name: a\nstages:\n  - command: [one]\n  - command: [two]\n  - command: [three]\n");
  REQUIRE(spec.stages.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string container = "container-" + std::to_string(i + 1);
    CHECK(spec.stages[i].name == container);
    CHECK(spec.stages[i].container == container);
  }
}

TEST_CASE("15 stages are allowed and a stage may use its own container name", "[spec]") {
  std::string yaml = "name: a\nstages:\n";
  for (int i = 1; i <= 15; ++i) {
    yaml += "  - name: container-" + std::to_string(i) + "\n    command: [x]\n";
  }
  CHECK(load(yaml).stages.size() == 15);
}

TEST_CASE("fractions of seconds and megabytes round up to whole ms and bytes", "[spec]") {
  const PipelineSpec spec = load(
      "name: a\nserver:\n  invocation_timeout_s: 0.0001\n  max_payload_mb: 0.0000001\n"
      "  drain_timeout_s: 1e1\nstages:\n  - command: [x]\n    timeout_s: 3600\n");
  CHECK(spec.server.invocation_timeout == 1ms);
  CHECK(spec.server.max_payload_bytes == 1u);
  CHECK(spec.server.drain_timeout == 10'000ms);
  CHECK(spec.stages[0].timeout == 3'600'000ms);
}

TEST_CASE("relative paths resolve against the spec's folder and are normalised", "[spec]") {
  const PipelineSpec spec = load(R"(name: a
stages:
  - command: [x]
    working_dir: stages/featurize/
    model_dir: ../models/./m
  - command: [x]
    working_dir: /opt//model/../app/.
    model_dir: /
)");
  CHECK(spec.stages[0].working_dir == "/srv/app/stages/featurize");
  CHECK(spec.stages[0].model_dir == "/srv/models/m");
  CHECK(spec.stages[1].working_dir == "/opt/app");
  CHECK(spec.stages[1].model_dir == "/");
}

TEST_CASE("a relative base_dir is made absolute", "[spec]") {
  const PipelineSpec spec =
      load_spec_text("name: a\nstages:\n  - command: [x]\n", "p.yaml", "conf", no_env);
  const auto expected = (std::filesystem::current_path() / "conf").lexically_normal();
  CHECK(spec.stages[0].working_dir == expected.string());
}

TEST_CASE("find_stage looks stages up by name", "[spec]") {
  const PipelineSpec spec = load(kFullSpec);
  REQUIRE(spec.find_stage("model") != nullptr);
  CHECK(spec.find_stage("model") == &spec.stages[1]);
  CHECK(spec.find_stage("featurize") == &spec.stages[0]);
  CHECK(spec.find_stage("container-2") == nullptr);
  CHECK(spec.find_stage("") == nullptr);
}

TEST_CASE("PortRange::to_string gives the SAGEMAKER_SAFE_PORT_RANGE format", "[spec]") {
  CHECK(PortRange{}.to_string() == "9000-9999");
  CHECK(PortRange{1024, 65535}.to_string() == "1024-65535");
}

TEST_CASE("SpecError::to_string omits what is unknown", "[spec]") {
  CHECK(SpecError{"p.yaml", 12, 5, "stages[1].timeout_s", "bad"}.to_string() ==
        "p.yaml:12:5: stages[1].timeout_s: bad");
  CHECK(SpecError{"p.yaml", 0, 0, "name", "bad"}.to_string() == "p.yaml: name: bad");
  CHECK(SpecError{"p.yaml", 3, 1, "", "bad"}.to_string() == "p.yaml:3:1: bad");
}

TEST_CASE("SpecErrors::what joins every error line", "[spec]") {
  const SpecErrors errors(
      {SpecError{"p.yaml", 1, 2, "a", "x"}, SpecError{"p.yaml", 3, 4, "b", "y"}});
  CHECK(std::string(errors.what()) == "p.yaml:1:2: a: x\np.yaml:3:4: b: y");
  CHECK(errors.errors().size() == 2);
}

TEST_CASE("process_env reads the process environment", "[spec]") {
  REQUIRE(::setenv("TANDEM_SPEC_TEST_VAR", "value", 1) == 0);
  CHECK(process_env("TANDEM_SPEC_TEST_VAR") == "value");
  REQUIRE(::unsetenv("TANDEM_SPEC_TEST_VAR") == 0);
  CHECK_FALSE(process_env("TANDEM_SPEC_TEST_VAR").has_value());
}

TEST_CASE("load_spec_file resolves paths against the file's folder", "[spec]") {
  const TempDir dir;
  const std::filesystem::path file = dir.path() / "pipeline.yaml";
  std::ofstream(file) << "name: from-file\nstages:\n  - command: [x]\n    model_dir: models\n";

  const PipelineSpec spec = load_spec_file(file.string(), no_env);
  CHECK(spec.name == "from-file");
  CHECK(spec.source == file.string());
  CHECK(spec.stages[0].working_dir == dir.path().string());
  CHECK(spec.stages[0].model_dir == (dir.path() / "models").string());
}

TEST_CASE("load_spec_file names the file as given in errors", "[spec]") {
  const TempDir dir;
  const std::filesystem::path file = dir.path() / "bad.yaml";
  std::ofstream(file) << "name: ok\nstages:\n  - command: [x]\n    timeout_s: fast\n";
  try {
    load_spec_file(file.string(), no_env);
    FAIL("expected SpecErrors");
  } catch (const SpecErrors& e) {
    CHECK(std::string(e.what()) == file.string() +
                                       ":4:16: stages[0].timeout_s: expected a positive number of "
                                       "seconds, got \"fast\"");
  }
}

TEST_CASE("load_spec_file reports a file it cannot read", "[spec]") {
  const TempDir dir;
  const std::string missing = (dir.path() / "missing.yaml").string();
  try {
    load_spec_file(missing, no_env);
    FAIL("expected SpecErrors");
  } catch (const SpecErrors& e) {
    CHECK(std::string(e.what()) == missing + ": cannot read the spec: No such file or directory");
    REQUIRE(e.errors().size() == 1);
    CHECK(e.errors()[0].file == missing);
    CHECK(e.errors()[0].line == 0);
  }
  try {
    load_spec_file(dir.path().string(), no_env);
    FAIL("expected SpecErrors");
  } catch (const SpecErrors& e) {
    CHECK(std::string(e.what()) == dir.path().string() + ": cannot read the spec: Is a directory");
  }
}

TEST_CASE("secret values are masked wherever tandem describes an environment", "[spec]") {
  const PipelineSpec spec = load(
      "name: a\nstages:\n  - command: [x]\n    env: {API_KEY: hunter2, MODE: fast}\n"
      "    secret_env: [API_KEY, DB_PASSWORD]\n  - command: [y]\n");
  const StageSpec& first = spec.stages[0];
  CHECK(first.secret_env == std::set<std::string>{"API_KEY", "DB_PASSWORD"});
  CHECK(describe_env(first, first.env) == "API_KEY=<secret> MODE=fast");
  // AWS credentials are secret for every stage, listed or not.
  const StageSpec& second = spec.stages[1];
  CHECK(describe_env(second, {{"AWS_SECRET_ACCESS_KEY", "s"},
                              {"AWS_SESSION_TOKEN", "t"},
                              {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "u"},
                              {"AWS_ACCESS_KEY_ID", "AKIA"},
                              {"API_KEY", "shown: not listed for this stage"}}) ==
        "API_KEY=shown: not listed for this stage AWS_ACCESS_KEY_ID=AKIA "
        "AWS_CONTAINER_AUTHORIZATION_TOKEN=<secret> AWS_SECRET_ACCESS_KEY=<secret> "
        "AWS_SESSION_TOKEN=<secret>");
  CHECK(secret_env_names(spec) ==
        std::set<std::string>{"API_KEY", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                              "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DB_PASSWORD"});
}

}  // namespace
}  // namespace tandem::spec
