// Reading the `capture` section of a spec (data capture, docs/capture.md). Internal to the
// spec module.
#pragma once

#include <filesystem>

#include "pipeline/spec/spec.h"
#include "pipeline/spec/yaml_reader.h"

namespace tandem::spec {

// The section as read; keys with errors keep their defaults (the errors are in `ctx`).
CaptureSpec read_capture(Context& ctx, const Value& value, const std::filesystem::path& base_dir);

}  // namespace tandem::spec
