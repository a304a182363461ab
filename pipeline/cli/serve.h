// `tandem serve`: starts the stages, then the front server, and runs until SIGTERM/SIGINT,
// when it drains in-flight invocations and stops the stages.
#pragma once

#include <optional>
#include <string>

#include "pipeline/spec/spec.h"

namespace tandem::cli {

struct ServeOptions {
  std::optional<std::string> host;
  std::optional<std::uint16_t> port;
};

// Returns the process exit code.
int serve(const spec::PipelineSpec& spec, const ServeOptions& options);

}  // namespace tandem::cli
