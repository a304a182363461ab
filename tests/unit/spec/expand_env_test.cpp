// ${VAR} expansion, directly and through the loader.
#include "pipeline/spec/expand_env.h"

#include <catch2/catch.hpp>
#include <map>

#include "pipeline/spec/spec.h"

namespace tandem::spec {
namespace {

using Lines = std::vector<std::string>;

std::optional<std::string> fake_env(const std::string& name) {
  static const std::map<std::string, std::string> variables = {
      {"HOME", "/home/ada"},       {"PORT", "8081"}, {"EMPTY", ""}, {"MODEL", "xgb"},
      {"DOLLAR", "$HOME ${HOME}"},
  };
  const auto found = variables.find(name);
  if (found == variables.end()) return std::nullopt;
  return found->second;
}

std::string expanded(std::string_view text) {
  const Expansion result = expand_env(text, fake_env);
  CHECK(result.errors.empty());
  return result.text;
}

Lines expansion_errors(std::string_view text) {
  return expand_env(text, fake_env).errors;
}

TEST_CASE("${VAR} expands from the lookup", "[expand_env]") {
  CHECK(expanded("${HOME}/models/${MODEL}") == "/home/ada/models/xgb");
  CHECK(expanded("${PORT}") == "8081");
  CHECK(expanded("${EMPTY}") == "");
  CHECK(expanded("no variables") == "no variables");
  CHECK(expanded("") == "");
}

TEST_CASE("expanded values are not expanded again", "[expand_env]") {
  CHECK(expanded("${DOLLAR}") == "$HOME ${HOME}");
}

TEST_CASE("${VAR:-default} uses the default when VAR is unset or empty", "[expand_env]") {
  CHECK(expanded("${UNSET:-fallback}") == "fallback");
  CHECK(expanded("${EMPTY:-fallback}") == "fallback");
  CHECK(expanded("${MODEL:-fallback}") == "xgb");
  CHECK(expanded("${UNSET:-}") == "");
  CHECK(expanded("${UNSET:-a:-b c}") == "a:-b c");
}

TEST_CASE("$$ is a literal $ and a lone $ is kept", "[expand_env]") {
  CHECK(expanded("$${HOME}") == "${HOME}");
  CHECK(expanded("cost: $$5") == "cost: $5");
  CHECK(expanded("{print $1}") == "{print $1}");
  CHECK(expanded("end$") == "end$");
  CHECK(expanded("$$$$") == "$$");
}

TEST_CASE("an unset variable without a default is an error", "[expand_env]") {
  CHECK(expansion_errors("${NOPE}/x") ==
        Lines{"environment variable NOPE is not set and has no default (write ${NOPE:-value} to "
              "give one)"});
  CHECK(expansion_errors("${A}${B}").size() == 2);
}

TEST_CASE("malformed references are errors", "[expand_env]") {
  CHECK(expansion_errors("abc${HOME") ==
        Lines{"unterminated \"${\" at character 4 of \"abc${HOME\"; close it with \"}\""});
  CHECK(expansion_errors("${1X}") ==
        Lines{"invalid variable name \"1X\" in \"${1X}\": use letters, digits and underscores, "
              "not starting with a digit"});
  CHECK(expansion_errors("${}") ==
        Lines{"invalid variable name \"\" in \"${}\": use letters, digits and underscores, not "
              "starting with a digit"});
  CHECK(expansion_errors("${A-b}") ==
        Lines{"invalid variable name \"A-b\" in \"${A-b}\": use letters, digits and "
              "underscores, not starting with a digit"});
}

TEST_CASE("a null lookup leaves every variable unset", "[expand_env]") {
  CHECK(expand_env("${X:-d}", nullptr).text == "d");
  CHECK(expand_env("${X}", nullptr).errors.size() == 1);
}

TEST_CASE("is_env_name", "[expand_env]") {
  CHECK(is_env_name("_A1"));
  CHECK(is_env_name("a"));
  CHECK_FALSE(is_env_name(""));
  CHECK_FALSE(is_env_name("1A"));
  CHECK_FALSE(is_env_name("A.B"));
}

TEST_CASE("the loader expands every string value", "[expand_env]") {
  const PipelineSpec spec = load_spec_text(R"(name: ${MODEL:-m}-endpoint
server:
  host: ${HOST:-127.0.0.1}
  port: ${PORT}
stages:
  - name: ${MODEL}
    command: [python3, "${HOME}/serve.py", "$${NOT_EXPANDED}"]
    working_dir: ${HOME}/work
    model_dir: models/${MODEL}
    env:
      MODEL_NAME: ${MODEL}
      PRICE: $$3
    content_type: ${CT:-text/csv}
)",
                                           "pipeline.yaml", "/srv/app", fake_env);
  CHECK(spec.name == "xgb-endpoint");
  CHECK(spec.server.host == "127.0.0.1");
  CHECK(spec.server.port == 8081);
  const StageSpec& stage = spec.stages[0];
  CHECK(stage.name == "xgb");
  CHECK(stage.command ==
        std::vector<std::string>{"python3", "/home/ada/serve.py", "${NOT_EXPANDED}"});
  CHECK(stage.working_dir == "/home/ada/work");
  CHECK(stage.model_dir == "/srv/app/models/xgb");
  CHECK(stage.env == std::map<std::string, std::string>{{"MODEL_NAME", "xgb"}, {"PRICE", "$3"}});
  CHECK(stage.content_type == "text/csv");
}

TEST_CASE("the loader reports expansion errors where they appear", "[expand_env]") {
  try {
    load_spec_text(R"(name: a
stages:
  - command: [serve, "${MISSING}"]
    env:
      A: ${ALSO_MISSING}
      B: "x${"
)",
                   "pipeline.yaml", "/srv/app", fake_env);
    FAIL("expected SpecErrors");
  } catch (const SpecErrors& e) {
    CHECK(std::string(e.what()) ==
          "pipeline.yaml:3:22: stages[0].command[1]: environment variable MISSING is not set and "
          "has no default (write ${MISSING:-value} to give one)\n"
          "pipeline.yaml:5:10: stages[0].env.A: environment variable ALSO_MISSING is not set and "
          "has no default (write ${ALSO_MISSING:-value} to give one)\n"
          "pipeline.yaml:6:10: stages[0].env.B: unterminated \"${\" at character 2 of \"x${\"; "
          "close it with \"}\"");
  }
}

TEST_CASE("an expanded value is still validated", "[expand_env]") {
  try {
    load_spec_text("name: a\nserver:\n  port: ${HOME}\nstages:\n  - command: [x]\n",
                   "pipeline.yaml", "/", fake_env);
    FAIL("expected SpecErrors");
  } catch (const SpecErrors& e) {
    CHECK(std::string(e.what()) ==
          "pipeline.yaml:3:9: server.port: expected an integer, got \"/home/ada\"");
  }
}

}  // namespace
}  // namespace tandem::spec
