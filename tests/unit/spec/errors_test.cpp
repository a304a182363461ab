// Every validation error, with its exact text and position.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "pipeline/spec/spec.h"

namespace tandem::spec {
namespace {

using Lines = std::vector<std::string>;

std::optional<std::string> no_env(const std::string&) {
  return std::nullopt;
}

// The error lines loading `yaml` reports; fails the test when it loads.
Lines errors_of(const std::string& yaml) {
  try {
    load_spec_text(yaml, "pipeline.yaml", "/srv/app", no_env);
  } catch (const SpecErrors& e) {
    Lines lines;
    for (const SpecError& error : e.errors()) lines.push_back(error.to_string());
    return lines;
  }
  FAIL("the spec loaded without errors:\n" << yaml);
  return {};
}

// A valid spec with `stage_keys` (each line indented under the only stage) appended.
std::string with_stage(const std::string& stage_keys) {
  return "name: a\nstages:\n  - command: [x]\n" + stage_keys;
}

// A valid spec with `server_keys` under server:.
std::string with_server(const std::string& server_keys) {
  return "name: a\nstages:\n  - command: [x]\nserver:\n" + server_keys;
}

TEST_CASE("the example from the style guide", "[errors]") {
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\n  - command: [y]\n    timeout_s: fast\n") ==
        Lines{"pipeline.yaml:5:16: stages[1].timeout_s: expected a positive number of seconds, "
              "got \"fast\""});
}

TEST_CASE("unknown keys suggest the closest known key", "[errors]") {
  CHECK(errors_of(with_stage("    timout_s: 5\n")) ==
        Lines{"pipeline.yaml:4:5: stages[0].timout_s: unknown key; did you mean \"timeout_s\"?"});
  CHECK(errors_of("nmae: a\nname: a\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:1:1: nmae: unknown key; did you mean \"name\"?"});
  CHECK(errors_of(with_server("  prot: 1\n  max_payload: 1\n")) ==
        Lines{"pipeline.yaml:5:3: server.prot: unknown key; did you mean \"port\"?",
              "pipeline.yaml:6:3: server.max_payload: unknown key; did you mean "
              "\"max_payload_mb\"?"});
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\nexecution_parameters:\n  "
                  "BatchStrategy: MULTI_RECORD\n") ==
        Lines{"pipeline.yaml:5:3: execution_parameters.BatchStrategy: unknown key; did you mean "
              "\"batch_strategy\"?"});
}

TEST_CASE("unknown keys with no close match list the known keys", "[errors]") {
  CHECK(errors_of(with_stage("    image: x\n")) ==
        Lines{"pipeline.yaml:4:5: stages[0].image: unknown key; expected one of name, command, "
              "working_dir, model_dir, env, secret_env, transport, content_type, accept, "
              "timeout_s, startup_timeout_s, max_inflight, mount_model_dir"});
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\nexecution_parameters: {xyz: 1}\n") ==
        Lines{"pipeline.yaml:4:24: execution_parameters.xyz: unknown key; expected one of "
              "max_concurrent_transforms, batch_strategy, max_payload_mb"});
}

TEST_CASE("duplicate keys are errors", "[errors]") {
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\nname: b\n") ==
        Lines{"pipeline.yaml:4:1: name: duplicate key; first given on line 1"});
  CHECK(errors_of(with_stage("    env:\n      A: 1\n      A: 2\n")) ==
        Lines{"pipeline.yaml:6:7: stages[0].env.A: duplicate key; first given on line 5"});
  CHECK(errors_of("name: a\nserver:\n  port: 1\nstages:\n  - command: [x]\nserver:\n  port: 2\n") ==
        Lines{"pipeline.yaml:6:1: server: duplicate key; first given on line 2"});
}

TEST_CASE("required keys", "[errors]") {
  CHECK(errors_of("mode: serial\n") == Lines{"pipeline.yaml:1:1: name: required key is missing",
                                             "pipeline.yaml:1:1: stages: required key is missing"});
  CHECK(errors_of("name: a\nstages:\n  - name: b\n") ==
        Lines{"pipeline.yaml:3:5: stages[0].command: required key is missing"});
}

TEST_CASE("enum values list the choices", "[errors]") {
  CHECK(errors_of("name: a\nmode: paralel\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:2:7: mode: expected one of serial, direct, got \"paralel\""});
  CHECK(errors_of("name: a\nmode: Serial\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:2:7: mode: expected one of serial, direct, got \"Serial\"; did you "
              "mean \"serial\"?"});
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\nexecution_parameters:\n  batch_strategy: "
                  "multi\n") ==
        Lines{"pipeline.yaml:5:19: execution_parameters.batch_strategy: expected one of "
              "SINGLE_RECORD, MULTI_RECORD, got \"multi\"; did you mean \"MULTI_RECORD\"?"});
  CHECK(errors_of("name: a\nmode: [serial]\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:2:7: mode: expected one of serial, direct, got a list"});
}

TEST_CASE("transport is http or shm", "[errors]") {
  const auto spec =
      load_spec_text(with_stage("    transport: shm\n"), "pipeline.yaml", "/srv/app", no_env);
  CHECK(spec.stages.at(0).transport == Transport::shm);
  CHECK(errors_of(with_stage("    transport: grpc\n")) ==
        Lines{"pipeline.yaml:4:16: stages[0].transport: expected one of http, shm, got \"grpc\""});
}

TEST_CASE("integers", "[errors]") {
  CHECK(errors_of(with_server("  port: http\n")) ==
        Lines{"pipeline.yaml:5:9: server.port: expected an integer, got \"http\""});
  CHECK(errors_of(with_server("  port: 80.5\n")) ==
        Lines{"pipeline.yaml:5:9: server.port: expected an integer, got \"80.5\""});
  CHECK(errors_of(with_server("  port: 65536\n")) ==
        Lines{"pipeline.yaml:5:9: server.port: must be between 0 and 65535, got 65536"});
  CHECK(errors_of(with_server("  port: -1\n")) ==
        Lines{"pipeline.yaml:5:9: server.port: must be between 0 and 65535, got -1"});
  CHECK(errors_of(with_server("  port: 99999999999999999999999\n")) ==
        Lines{"pipeline.yaml:5:9: server.port: must be between 0 and 65535, got "
              "99999999999999999999999"});
  CHECK(errors_of(with_server("  max_concurrent_invocations: 0\n")) ==
        Lines{"pipeline.yaml:5:31: server.max_concurrent_invocations: must be between 1 and "
              "100000, got 0"});
  CHECK(errors_of(with_server("  max_concurrent_invocations: 100001\n")) ==
        Lines{"pipeline.yaml:5:31: server.max_concurrent_invocations: must be between 1 and "
              "100000, got 100001"});
  CHECK(errors_of(with_stage("    max_inflight: 1025\n")) ==
        Lines{"pipeline.yaml:4:19: stages[0].max_inflight: must be between 1 and 1024, got 1025"});
  CHECK(errors_of(with_stage("    max_inflight: 0\n")) ==
        Lines{"pipeline.yaml:4:19: stages[0].max_inflight: must be between 1 and 1024, got 0"});
  CHECK(errors_of(with_stage("    max_inflight:\n")) ==
        Lines{"pipeline.yaml:4:5: stages[0].max_inflight: expected an integer, got null"});
}

TEST_CASE("execution parameters", "[errors]") {
  const std::string head = "name: a\nstages:\n  - command: [x]\nexecution_parameters:\n";
  CHECK(errors_of(head + "  max_concurrent_transforms: 0\n") ==
        Lines{"pipeline.yaml:5:30: execution_parameters.max_concurrent_transforms: must be "
              "between 1 and 1000, got 0"});
  CHECK(errors_of(head + "  max_concurrent_transforms: 1001\n") ==
        Lines{"pipeline.yaml:5:30: execution_parameters.max_concurrent_transforms: must be "
              "between 1 and 1000, got 1001"});
  CHECK(errors_of(head + "  max_payload_mb: 101\n") ==
        Lines{"pipeline.yaml:5:19: execution_parameters.max_payload_mb: must be between 0 and "
              "100, got 101"});
  CHECK(errors_of(head + "  max_payload_mb: 6.5\n") ==
        Lines{"pipeline.yaml:5:19: execution_parameters.max_payload_mb: expected an integer, got "
              "\"6.5\""});
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\nexecution_parameters: [4]\n") ==
        Lines{"pipeline.yaml:4:23: execution_parameters: expected a map, got a list"});
}

TEST_CASE("seconds", "[errors]") {
  CHECK(errors_of(with_server("  invocation_timeout_s: 0\n")) ==
        Lines{"pipeline.yaml:5:25: server.invocation_timeout_s: must be greater than 0 and at "
              "most 3600 seconds, got 0"});
  CHECK(errors_of(with_server("  invocation_timeout_s: 3600.5\n")) ==
        Lines{"pipeline.yaml:5:25: server.invocation_timeout_s: must be greater than 0 and at "
              "most 3600 seconds, got 3600.5"});
  CHECK(errors_of(with_server("  request_read_timeout_s: 0\n")) ==
        Lines{"pipeline.yaml:5:27: server.request_read_timeout_s: must be greater than 0 and at "
              "most 3600 seconds, got 0"});
  CHECK(errors_of(with_server("  invocation_timeout_s: inf\n")) ==
        Lines{"pipeline.yaml:5:25: server.invocation_timeout_s: expected a positive number of "
              "seconds, got \"inf\""});
  CHECK(errors_of(with_server("  drain_timeout_s: -1\n")) ==
        Lines{"pipeline.yaml:5:20: server.drain_timeout_s: must be between 0 and 3600 seconds, "
              "got -1"});
  CHECK(errors_of(with_server("  stage_stop_timeout_s: soon\n")) ==
        Lines{"pipeline.yaml:5:25: server.stage_stop_timeout_s: expected a number of seconds, got "
              "\"soon\""});
  CHECK(errors_of(with_stage("    timeout_s: -0.5\n")) ==
        Lines{"pipeline.yaml:4:16: stages[0].timeout_s: must be greater than 0 and at most 3600 "
              "seconds, got -0.5"});
  CHECK(errors_of(with_stage("    startup_timeout_s: 0\n")) ==
        Lines{"pipeline.yaml:4:24: stages[0].startup_timeout_s: must be greater than 0 and at "
              "most 3600 seconds, got 0"});
  CHECK(errors_of(with_stage("    startup_timeout_s: {s: 1}\n")) ==
        Lines{"pipeline.yaml:4:24: stages[0].startup_timeout_s: expected a positive number of "
              "seconds, got a map"});
}

TEST_CASE("a NUL character in any string is an error, not a value cut short", "[errors]") {
  CHECK(errors_of("name: a\nstages:\n  - command: [x, \"a\\0b\"]\n    env: {A: \"\\x00\"}\n") ==
        Lines{"pipeline.yaml:3:18: stages[0].command[1]: must not contain a NUL character (\\0)",
              "pipeline.yaml:4:14: stages[0].env.A: must not contain a NUL character (\\0)"});
}

TEST_CASE("a stage's content_type and accept cannot carry a header of their own", "[errors]") {
  CHECK(errors_of(with_stage("    content_type: \"text/csv\\r\\nX-Injected: 1\"\n"
                             "    accept: \"a\\x7f\"\n")) ==
        Lines{"pipeline.yaml:4:19: stages[0].content_type: control character 0x0d at position 8; "
              "a header value cannot hold one",
              "pipeline.yaml:5:13: stages[0].accept: control character 0x7f at position 1; a "
              "header value cannot hold one"});
}

TEST_CASE("numbers beyond a double are out of range", "[errors]") {
  CHECK(errors_of(with_stage("    timeout_s: 1e400\n")) ==
        Lines{"pipeline.yaml:4:16: stages[0].timeout_s: must be greater than 0 and at most 3600 "
              "seconds, got 1e400"});
  CHECK(errors_of(with_server("  drain_timeout_s: -1e400\n  max_payload_mb: 1e-400\n")) ==
        Lines{"pipeline.yaml:5:20: server.drain_timeout_s: must be between 0 and 3600 seconds, "
              "got -1e400",
              "pipeline.yaml:6:19: server.max_payload_mb: must be greater than 0 and at most 100 "
              "MB, got 1e-400"});
}

TEST_CASE("megabytes", "[errors]") {
  CHECK(errors_of(with_server("  max_payload_mb: big\n")) ==
        Lines{"pipeline.yaml:5:19: server.max_payload_mb: expected a positive number of "
              "megabytes, got \"big\""});
  CHECK(errors_of(with_server("  max_payload_mb: 0\n")) ==
        Lines{"pipeline.yaml:5:19: server.max_payload_mb: must be greater than 0 and at most 100 "
              "MB, got 0"});
  CHECK(errors_of(with_server("  stage_payload_mb: 100.5\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_payload_mb: must be greater than 0 and at most "
              "100 MB, got 100.5"});
}

TEST_CASE("strings", "[errors]") {
  CHECK(errors_of(with_server("  host: \"\"\n")) ==
        Lines{"pipeline.yaml:5:9: server.host: must not be empty"});
  CHECK(errors_of(with_stage("    content_type: \"\"\n    accept: [a]\n")) ==
        Lines{"pipeline.yaml:4:19: stages[0].content_type: must not be empty",
              "pipeline.yaml:5:13: stages[0].accept: expected a string, got a list"});
  CHECK(errors_of(with_stage("    working_dir: \"\"\n    model_dir: {a: b}\n")) ==
        Lines{"pipeline.yaml:4:18: stages[0].working_dir: must not be empty",
              "pipeline.yaml:5:16: stages[0].model_dir: expected a string, got a map"});
}

TEST_CASE("the stage port range", "[errors]") {
  CHECK(errors_of(with_server("  stage_port_range: 9000\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_port_range: expected a port range \"LOW-HIGH\" "
              "such as \"9000-9999\", got \"9000\""});
  CHECK(errors_of(with_server("  stage_port_range: 80-90\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_port_range: must satisfy 1024 <= LOW <= HIGH <= "
              "65535, got \"80-90\""});
  CHECK(errors_of(with_server("  stage_port_range: 9999-9000\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_port_range: must satisfy 1024 <= LOW <= HIGH <= "
              "65535, got \"9999-9000\""});
  CHECK(errors_of(with_server("  stage_port_range: 60000-70000\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_port_range: must satisfy 1024 <= LOW <= HIGH <= "
              "65535, got \"60000-70000\""});
  CHECK(errors_of("name: a\nserver:\n  stage_port_range: 9000-9001\nstages:\n  - command: [x]\n"
                  "  - command: [x]\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:3:21: server.stage_port_range: 9000-9001 holds 2 ports but 3 "
              "stages need 15, 5 per stage: its SAGEMAKER_BIND_TO_PORT and a "
              "SAGEMAKER_SAFE_PORT_RANGE of 4 (stage_safe_ports)"});
  // Enough ports for one per stage is no longer enough: each stage has a safe range too.
  CHECK(errors_of(with_server("  stage_port_range: 9000-9003\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_port_range: 9000-9003 holds 4 ports but 1 "
              "stage needs 5, 5 per stage: its SAGEMAKER_BIND_TO_PORT and a "
              "SAGEMAKER_SAFE_PORT_RANGE of 4 (stage_safe_ports)"});
  CHECK_NOTHROW(
      load_spec_text(with_server("  stage_port_range: 9000-9001\n  stage_safe_ports: 1\n"),
                     "pipeline.yaml", "/srv/app", no_env));
}

TEST_CASE("the safe ports of each stage", "[errors]") {
  CHECK(errors_of(with_server("  stage_safe_ports: 0\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_safe_ports: must be between 1 and 1000, got 0"});
  CHECK(errors_of(with_server("  stage_safe_ports: 1001\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_safe_ports: must be between 1 and 1000, got 1001"});
  CHECK(errors_of(with_server("  stage_safe_ports: many\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_safe_ports: expected an integer, got \"many\""});
  // Too many for the default range: reported at stage_safe_ports, naming the range.
  CHECK(errors_of("name: a\nserver:\n  stage_safe_ports: 999\nstages:\n  - command: [x]\n"
                  "  - command: [x]\n") ==
        Lines{"pipeline.yaml:3:21: server.stage_safe_ports: stage_port_range 9000-9999 holds "
              "1000 ports but 2 stages need 2000, 1000 per stage: its SAGEMAKER_BIND_TO_PORT and "
              "a SAGEMAKER_SAFE_PORT_RANGE of 999 (stage_safe_ports)"});
  // An invalid range is reported once, not again as too small.
  CHECK(errors_of(with_server("  stage_port_range: 80-90\n  stage_safe_ports: 2\n")) ==
        Lines{"pipeline.yaml:5:21: server.stage_port_range: must satisfy 1024 <= LOW <= HIGH <= "
              "65535, got \"80-90\""});
}

TEST_CASE("the endpoint and stage naming rule", "[errors]") {
  const std::string rule =
      "letters, digits and hyphens, starting and ending with a letter or digit";
  CHECK(errors_of("name: my_model\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:1:7: name: \"my_model\" is not a valid name; use 1 to 63 " + rule});
  CHECK(errors_of("name: model-\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:1:7: name: \"model-\" is not a valid name; use 1 to 63 " + rule});
  const std::string long_name(64, 'a');
  CHECK(errors_of("name: " + long_name + "\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:1:7: name: \"" + long_name +
              "\" is 64 characters long; use at most 63 " + rule});
  const std::string very_long_name(100, 'b');
  CHECK(errors_of("name: " + very_long_name + "\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:1:7: name: \"" + std::string(80, 'b') +
              "...\" is 100 characters long; use at most 63 " + rule});
  CHECK(errors_of("name: \"\"\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:1:7: name: must not be empty"});
  CHECK(
      errors_of("name: a\nstages:\n  - name: -b\n    command: [x]\n") ==
      Lines{"pipeline.yaml:3:11: stages[0].name: \"-b\" is not a valid name; use 1 to 63 " + rule});
}

TEST_CASE("a valid name may hold runs of hyphens and be 63 characters long", "[errors]") {
  const std::string name = "a--b-" + std::string(58, 'c');
  REQUIRE(name.size() == 63);
  CHECK(load_spec_text("name: " + name + "\nstages:\n  - command: [x]\n", "p", "/", no_env).name ==
        name);
}

TEST_CASE("the number of stages", "[errors]") {
  CHECK(errors_of("name: a\nstages: []\n") ==
        Lines{"pipeline.yaml:2:9: stages: must have 1 to 15 stages, got 0"});
  std::string sixteen = "name: a\nstages:\n";
  for (int i = 0; i < 16; ++i) sixteen += "  - command: [x]\n";
  CHECK(errors_of(sixteen) == Lines{"pipeline.yaml:3:3: stages: must have 1 to 15 stages, got 16"});
  CHECK(errors_of("name: a\nstages:\n  command: [x]\n") ==
        Lines{"pipeline.yaml:3:3: stages: expected a list of stages, got a map"});
  CHECK(errors_of("name: a\nstages:\n  - serve.py\n") ==
        Lines{"pipeline.yaml:3:5: stages[0]: expected a map, got \"serve.py\""});
}

TEST_CASE("every stage has a name or none does", "[errors]") {
  CHECK(errors_of("name: a\nstages:\n  - name: one\n    command: [x]\n  - command: [x]\n"
                  "  - command: [x]\n") ==
        Lines{"pipeline.yaml:5:5: stages: either every stage has a name or none does; stages[1] "
              "(container-2), stages[2] (container-3) have no name"});
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\n  - name: two\n    command: [x]\n") ==
        Lines{"pipeline.yaml:3:5: stages: either every stage has a name or none does; stages[0] "
              "(container-1) has no name"});
}

TEST_CASE("stage names are unique and do not take another stage's container name", "[errors]") {
  CHECK(errors_of("name: a\nstages:\n  - name: m\n    command: [x]\n  - name: m\n    command: "
                  "[x]\n") ==
        Lines{"pipeline.yaml:5:11: stages[1].name: duplicate stage name \"m\"; stages[0] has it "
              "too"});
  CHECK(errors_of("name: a\nstages:\n  - name: container-2\n    command: [x]\n  - name: b\n    "
                  "command: [x]\n") ==
        Lines{"pipeline.yaml:3:11: stages[0].name: \"container-2\" is the container name of "
              "stages[1]; choose another name"});
}

TEST_CASE("the command is a list of strings", "[errors]") {
  CHECK(errors_of("name: a\nstages:\n  - command: python3 serve.py  serve\n") ==
        Lines{"pipeline.yaml:3:14: stages[0].command: expected a list of strings (the program "
              "and its arguments), got the string \"python3 serve.py  serve\"; write it as a "
              "list: [python3, serve.py, serve]"});
  CHECK(errors_of("name: a\nstages:\n  - command: []\n") ==
        Lines{"pipeline.yaml:3:14: stages[0].command: expected a non-empty list of strings (the "
              "program and its arguments), got an empty list"});
  CHECK(errors_of("name: a\nstages:\n  - command: {a: b}\n") ==
        Lines{"pipeline.yaml:3:14: stages[0].command: expected a non-empty list of strings (the "
              "program and its arguments), got a map"});
  CHECK(errors_of("name: a\nstages:\n  - command: [\"\", [b], c]\n") ==
        Lines{"pipeline.yaml:3:15: stages[0].command[0]: must not be empty",
              "pipeline.yaml:3:19: stages[0].command[1]: expected a string, got a list"});
}

TEST_CASE("stage environment variables", "[errors]") {
  CHECK(errors_of(with_stage("    env:\n      1BAD: x\n      A-B: y\n")) ==
        Lines{"pipeline.yaml:5:7: stages[0].env.1BAD: invalid environment variable name; use "
              "letters, digits and underscores, not starting with a digit",
              "pipeline.yaml:6:7: stages[0].env.A-B: invalid environment variable name; use "
              "letters, digits and underscores, not starting with a digit"});
  CHECK(errors_of(with_stage("    env:\n      NESTED: {a: b}\n      LIST: [1]\n      NONE:\n")) ==
        Lines{"pipeline.yaml:5:15: stages[0].env.NESTED: expected a string, number or boolean, "
              "got a map",
              "pipeline.yaml:6:13: stages[0].env.LIST: expected a string, number or boolean, got "
              "a list",
              "pipeline.yaml:7:7: stages[0].env.NONE: expected a string, number or boolean, got "
              "null"});
  CHECK(errors_of(with_stage("    env: [A=1]\n")) ==
        Lines{"pipeline.yaml:4:10: stages[0].env: expected a map, got a list"});
  CHECK(errors_of(with_stage("    env:\n      SAGEMAKER_BIND_TO_PORT: 1\n")) ==
        Lines{"pipeline.yaml:5:7: stages[0].env.SAGEMAKER_BIND_TO_PORT: is set by tandem for "
              "every stage and cannot be overridden"});
}

TEST_CASE("secret_env lists variable names, each once", "[errors]") {
  CHECK(errors_of(with_stage("    secret_env: [API_KEY, 1BAD, API_KEY, [x]]\n")) ==
        Lines{"pipeline.yaml:4:27: stages[0].secret_env[1]: expected an environment variable "
              "name (letters, digits and underscores, not starting with a digit), got \"1BAD\"",
              "pipeline.yaml:4:33: stages[0].secret_env[2]: API_KEY is listed twice",
              "pipeline.yaml:4:42: stages[0].secret_env[3]: expected a string, got a list"});
  CHECK(errors_of(with_stage("    secret_env: API_KEY\n")) ==
        Lines{"pipeline.yaml:4:17: stages[0].secret_env: expected a list of environment "
              "variable names, got \"API_KEY\""});
}

TEST_CASE("the spec version", "[errors]") {
  CHECK(load_spec_text("version: 1\nname: a\nstages:\n  - command: [x]\n", "p", "/", no_env).name ==
        "a");
  CHECK(errors_of("version: 2\nname: a\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:1:10: version: unsupported spec version 2; this build reads "
              "version 1"});
}

TEST_CASE("YAML syntax errors carry the parser's position", "[errors]") {
  CHECK(errors_of("name: a\nstages: [x\n") ==
        Lines{"pipeline.yaml:3:1: invalid YAML: end of sequence flow not found"});
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\n   bad: 1\n") ==
        Lines{"pipeline.yaml:4:4: invalid YAML: end of sequence not found"});
}

// yaml-cpp 0.7's LoadAll loops forever, allocating, on these (found by tests/fuzz/spec_fuzzer).
TEST_CASE("a token no document can start with is a YAML error, not a hang", "[errors]") {
  CHECK(errors_of(",\"") == Lines{"pipeline.yaml:1:1: invalid YAML: unexpected ','"});
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\n---\n, b\n") ==
        Lines{"pipeline.yaml:5:1: invalid YAML: unexpected ','"});
}

TEST_CASE("the document must be one map", "[errors]") {
  const Lines empty{
      "pipeline.yaml:1:1: the spec is empty; expected a map with at least name and stages"};
  CHECK(errors_of("") == empty);
  CHECK(errors_of("# only a comment\n") == empty);
  CHECK(errors_of("~\n") == empty);
  CHECK(errors_of("- name: a\n") ==
        Lines{"pipeline.yaml:1:1: expected a map at the top level, got a list"});
  CHECK(errors_of("just text\n") ==
        Lines{"pipeline.yaml:1:1: expected a map at the top level, got \"just text\""});
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\n---\nname: b\n") ==
        Lines{"pipeline.yaml:5:1: expected one YAML document, found 2; remove the \"---\" "
              "separators"});
  CHECK(errors_of("? [a]\n: b\nname: a\nstages:\n  - command: [x]\n") ==
        Lines{"pipeline.yaml:1:3: expected a string key, got a list"});
}

TEST_CASE("every error is reported at once, in document order", "[errors]") {
  const std::string yaml = R"(name: my_model
mode: paralel
server:
  port: 70000
  prot: 1
stages:
  - name: featurize
    command: python3 featurizer.py
    timeout_s: fast
    transport: shared
  - command: [x]
    max_inflight: many
)";
  CHECK(errors_of(yaml) ==
        Lines{
            "pipeline.yaml:1:7: name: \"my_model\" is not a valid name; use 1 to 63 letters, "
            "digits and hyphens, starting and ending with a letter or digit",
            "pipeline.yaml:2:7: mode: expected one of serial, direct, got \"paralel\"",
            "pipeline.yaml:4:9: server.port: must be between 0 and 65535, got 70000",
            "pipeline.yaml:5:3: server.prot: unknown key; did you mean \"port\"?",
            "pipeline.yaml:8:14: stages[0].command: expected a list of strings (the program and "
            "its arguments), got the string \"python3 featurizer.py\"; write it as a list: "
            "[python3, featurizer.py]",
            "pipeline.yaml:9:16: stages[0].timeout_s: expected a positive number of seconds, got "
            "\"fast\"",
            "pipeline.yaml:10:16: stages[0].transport: expected one of http, shm, got \"shared\"",
            "pipeline.yaml:11:5: stages: either every stage has a name or none does; stages[1] "
            "(container-2) has no name",
            "pipeline.yaml:12:19: stages[1].max_inflight: expected an integer, got \"many\"",
        });
}

TEST_CASE("errors carry their parts separately", "[errors]") {
  try {
    load_spec_text(with_stage("    timeout_s: fast\n"), "dir/p.yaml", "/", no_env);
    FAIL("expected SpecErrors");
  } catch (const SpecErrors& e) {
    REQUIRE(e.errors().size() == 1);
    const SpecError& error = e.errors()[0];
    CHECK(error.file == "dir/p.yaml");
    CHECK(error.line == 4);
    CHECK(error.column == 16);
    CHECK(error.path == "stages[0].timeout_s");
    CHECK(error.message == "expected a positive number of seconds, got \"fast\"");
  }
}

}  // namespace
}  // namespace tandem::spec

namespace tandem::spec {
namespace {

TEST_CASE("mount_model_dir is a boolean that needs a model_dir", "[errors]") {
  CHECK(errors_of(with_stage("    mount_model_dir: true\n")) ==
        Lines{"pipeline.yaml:4:22: stages[0].mount_model_dir: mount_model_dir: true needs a "
              "model_dir to mount at /opt/ml/model"});
  const auto bad = errors_of(with_stage("    model_dir: m\n    mount_model_dir: maybe\n"));
  REQUIRE(bad.size() == 1);
  CHECK(
      bad[0].starts_with("pipeline.yaml:5:22: stages[0].mount_model_dir: expected one of false, "
                         "true, got \"maybe\""));
}

TEST_CASE("mount_model_dir: true with a model_dir loads", "[spec]") {
  const auto spec = load_spec_text(with_stage("    model_dir: m\n    mount_model_dir: true\n"),
                                   "pipeline.yaml", "/srv/app", no_env);
  CHECK(spec.stages[0].mount_model_dir);
  CHECK(spec.stages[0].model_dir == "/srv/app/m");
  const auto plain = load_spec_text(with_stage(""), "pipeline.yaml", "/srv/app", no_env);
  CHECK_FALSE(plain.stages[0].mount_model_dir);
}

}  // namespace
}  // namespace tandem::spec

namespace tandem::spec {
namespace {

// Hostile specs: each is refused with errors naming where, quickly and without a crash.
// yaml-cpp stops at 500 levels (its message is only "bad file"); its position is where its
// scanner had read to, on the right line.
TEST_CASE("nesting deeper than the YAML parser allows is an error on its line", "[errors]") {
  const std::string head = "name: a\nstages:\n  - command: [x]\n";
  auto lists = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  CHECK(errors_of(head + "x: " + lists(498) + "\n") ==
        Lines{"pipeline.yaml:4:1: x: unknown key; expected one of version, name, mode, server, "
              "execution_parameters, stages, capture"});
  CHECK(errors_of(head + "x: " + lists(499) + "\n") ==
        Lines{"pipeline.yaml:4:1002: invalid YAML: collections nested more than 499 levels deep"});
  CHECK(errors_of(head + "    env: {A: " + lists(5000) + "}\n") ==
        Lines{"pipeline.yaml:4:10014: invalid YAML: collections nested more than 499 levels deep"});
  std::string maps = head + "x:\n";
  for (int depth = 1; depth <= 600; ++depth) maps += std::string(depth, ' ') + "k:\n";
  CHECK(errors_of(maps) ==
        Lines{"pipeline.yaml:502:501: invalid YAML: collections nested more than 499 levels "
              "deep"});
}

TEST_CASE("aliases that would expand exponentially are read as the value they name", "[errors]") {
  // a11 stands for 10^12 scalars if expanded.
  std::string bomb = "[&a0 [x, x, x, x, x, x, x, x, x, x]";
  for (int i = 1; i < 12; ++i) {
    bomb += ", &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k == 0 ? "*a" : ", *a") + std::to_string(i - 1);
    bomb += "]";
  }
  bomb += "]";
  CHECK(errors_of("name: a\nstages:\n  - command: [x]\n    env: {A: " + bomb + "}\n") ==
        Lines{"pipeline.yaml:4:14: stages[0].env.A: expected a string, number or boolean, got "
              "a list"});
  const Lines each_a_list = errors_of("name: a\nstages:\n  - command: " + bomb + "\n");
  REQUIRE(each_a_list.size() == 12);
  CHECK(each_a_list[0] ==
        "pipeline.yaml:3:15: stages[0].command[0]: expected a string, got a list");
  CHECK(each_a_list[11] ==
        "pipeline.yaml:3:612: stages[0].command[11]: expected a string, got a list");
}

}  // namespace
}  // namespace tandem::spec
