// The spec loader on arbitrary text: it either returns a spec or throws SpecErrors naming
// where the problem is. Any other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>

#include "pipeline/spec/spec.h"

namespace {

std::optional<std::string> no_env(const std::string&) {
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto spec = tandem::spec::load_spec_text(text, "fuzz.yaml", "/tmp", no_env);
    // What docs/spec.md promises of a spec that loads.
    if (spec.stages.empty() || spec.stages.size() > 15 || spec.name.empty()) std::abort();
    std::set<std::string> names;
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
      const auto& stage = spec.stages[i];
      if (stage.command.empty() || !stage.working_dir.starts_with('/')) std::abort();
      if (stage.container != "container-" + std::to_string(i + 1)) std::abort();
      if (!names.insert(stage.name).second) std::abort();
    }
  } catch (const tandem::spec::SpecErrors& errors) {
    if (errors.errors().empty()) std::abort();
    for (const auto& error : errors.errors()) {
      if (error.file != "fuzz.yaml" || error.message.empty()) std::abort();
      (void)error.to_string();
    }
  }
  return 0;
}
