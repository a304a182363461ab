// `tandem replay`: the command line of a replay (pipeline/capture/replay.h) turned into its
// options.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/spec/spec.h"

namespace tandem::cli {

struct ReplayArgs {
  std::optional<std::string> capture;
  std::optional<std::string> input;
  std::optional<std::string> content_type;
  std::optional<std::string> accept;
  std::string split_type = "None";
  std::optional<std::string> endpoint;
  std::optional<std::string> trace;
  std::vector<std::string> only;
  double tolerance = 1e-6;
  std::size_t concurrency = 1;
  std::optional<std::string> report;
};

// Adds the subcommand's options to `command`, bound to `args`.
void add_replay_options(CLI::App& command, ReplayArgs& args);

// Returns the process exit code (see capture::run_replay; 2 for invalid options, as for an
// invalid spec).
int replay(const spec::PipelineSpec& spec, const ReplayArgs& args);

}  // namespace tandem::cli
