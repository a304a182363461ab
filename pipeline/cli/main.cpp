// The `tandem` program: serve a pipeline as an endpoint, run it as a batch transform job,
// replay captured traffic through it, or validate its spec.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "pipeline/cli/fetch.h"
#include "pipeline/cli/replay.h"
#include "pipeline/cli/serve.h"
#include "pipeline/cli/transform.h"
#include "pipeline/common/log.h"
#include "pipeline/spec/commands.h"
#include "pipeline/spec/spec.h"

namespace {

constexpr int exit_spec_error = 2;

// The spec, with every stage's program found (spec/commands.h): nothing starts unless all are.
std::optional<tandem::spec::PipelineSpec> load(const std::string& path) {
  try {
    auto spec = tandem::spec::load_spec_file(path);
    auto errors = tandem::spec::command_errors(spec, tandem::spec::CommandSearch::here());
    if (!errors.empty()) throw tandem::spec::SpecErrors(std::move(errors));
    return spec;
  } catch (const tandem::spec::SpecErrors& e) {
    for (const auto& error : e.errors()) std::cerr << error.to_string() << "\n";
    std::cerr << path << ": " << e.errors().size() << " error(s)\n";
    return std::nullopt;
  }
}

// `tandem validate`: the stages and where each one's program was found.
int print_validated(const std::string& spec_path, const tandem::spec::PipelineSpec& spec) {
  std::cout << spec_path << ": ok: endpoint '" << spec.name << "', " << spec.stages.size()
            << " stage(s):";
  for (const auto& s : spec.stages) std::cout << " " << s.name;
  std::cout << "\n";
  const auto search = tandem::spec::CommandSearch::here();
  for (const auto& s : spec.stages) {
    const auto resolved = tandem::spec::resolve_command(s, search);
    std::cout << "  " << s.name << ": " << s.command[0] << " -> " << resolved.program << " ("
              << resolved.how << ")\n";
  }
  return 0;
}

// --log-format and --log-level, before or after the subcommand.
void add_log_options(CLI::App& app) {
  app.add_option("--log-format")
      ->description(
          "log lines: text (for people), json (one object per line) or auto (json unless stderr "
          "is a terminal); default text")
      ->envname("TANDEM_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json", "auto"}))
      ->each([](const std::string& f) { tandem::log::set_format(*tandem::log::parse_format(f)); });
  app.add_option("--log-level")
      ->description(
          "least severe lines logged: debug, info, warn or error; default info. Debug adds each "
          "stage's command and environment (secret values masked, see docs/security.md) and "
          "where each input, output and capture destination resolved to")
      ->envname("TANDEM_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->each([](const std::string& l) { tandem::log::set_level(*tandem::log::parse_level(l)); });
  // Also after the subcommand: `tandem serve spec --log-format json`.
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) sub->fallthrough();
}

// Every subcommand and what it was given.
struct Commands {
  std::string spec_path;
  tandem::cli::ServeOptions serve_options;
  tandem::cli::TransformArgs transform_args;
  tandem::cli::ReplayArgs replay_args;
  std::string fetch_source;
  std::string fetch_destination;
  CLI::App* serve = nullptr;
  CLI::App* transform = nullptr;
  CLI::App* replay = nullptr;
  CLI::App* validate = nullptr;
  CLI::App* fetch = nullptr;

  void declare(CLI::App& app) {
    serve = app.add_subcommand("serve", "start the stages and serve the pipeline over HTTP");
    serve->add_option("spec", spec_path, "pipeline spec (pipeline.yaml)")->required();
    serve->add_option("--host", serve_options.host, "listen address (overrides server.host)");
    serve->add_option(
        "--port", serve_options.port,
        "listen port, 0 for any free one (overrides server.port and SAGEMAKER_BIND_TO_PORT)");

    transform = app.add_subcommand(
        "transform", "run the pipeline as a batch transform job over a folder or an S3 prefix");
    transform->add_option("spec", spec_path, "pipeline spec (pipeline.yaml)")->required();
    tandem::cli::add_transform_options(*transform, transform_args);

    replay = app.add_subcommand(
        "replay", "re-run captured invocations through the pipeline and compare the answers");
    replay->add_option("spec", spec_path, "pipeline spec (pipeline.yaml)")->required();
    tandem::cli::add_replay_options(*replay, replay_args);

    validate = app.add_subcommand("validate", "check a spec and print every error; starts nothing");
    validate->add_option("spec", spec_path, "pipeline spec (pipeline.yaml)")->required();

    fetch = app.add_subcommand(
        "fetch",
        "copy an object, or every object under a prefix, from S3 or a folder to a local path "
        "(used by tandem-python for SAGEMAKER_SUBMIT_DIRECTORY)");
    fetch->add_option("source", fetch_source, "s3://bucket/key, s3://bucket/prefix/ or a path")
        ->required();
    fetch
        ->add_option("destination", fetch_destination,
                     "the file for one object, the folder for a prefix")
        ->required();
  }

  int run() const {
    if (fetch->parsed()) return tandem::cli::fetch(fetch_source, fetch_destination);
    const auto spec = load(spec_path);
    if (!spec) return exit_spec_error;
    if (validate->parsed()) return print_validated(spec_path, *spec);
    if (transform->parsed()) return tandem::cli::transform(*spec, transform_args);
    if (replay->parsed()) return tandem::cli::replay(*spec, replay_args);
    return tandem::cli::serve(*spec, serve_options);
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tandem: run a chain of model-serving stages as one SageMaker-compatible endpoint"};
  app.set_version_flag("--version", std::string("tandem 0.1.0"));
  app.require_subcommand(1);
  Commands commands;
  commands.declare(app);
  add_log_options(app);
  CLI11_PARSE(app, argc, argv);
  return commands.run();
}
