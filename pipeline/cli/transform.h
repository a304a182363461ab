// `tandem transform`: the command line of a batch transform job (a job.json in the shape of
// boto3's create_transform_job request, flags overriding it) turned into a TransformJob, the
// host's shard and the run options, then run by pipeline/batch.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/spec/spec.h"
#include "pipeline/transform/job.h"

namespace tandem::cli {

struct TransformArgs {
  std::optional<std::string> job_file;
  transform::JobOverrides overrides;
  std::vector<std::string> env;  // KEY=VALUE
  bool resume = false;
  std::optional<std::string> shard_index;
  std::optional<std::string> shard_count;
  std::optional<std::string> report;
  bool quiet = false;
  std::optional<std::string> metrics_file;
};

// Adds the subcommand's options to `command`, bound to `args`.
void add_transform_options(CLI::App& command, TransformArgs& args);

// Returns the process exit code (2 for an invalid job or shard, as for an invalid spec).
int transform(const spec::PipelineSpec& spec, const TransformArgs& args);

}  // namespace tandem::cli
