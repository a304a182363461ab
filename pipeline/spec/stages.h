// Reading the `stages` list of a spec: each stage's keys, then the rules that span stages
// (how many, naming all or none, unique names). Internal to the spec module.
#pragma once

#include <filesystem>
#include <vector>

#include "pipeline/spec/spec.h"
#include "pipeline/spec/yaml_reader.h"

namespace tandem::spec {

inline constexpr std::size_t kMaxStages = 15;

// Returns the stages read, including ones with errors (their bad keys keep defaults), so
// that later checks such as the port range's size can still run.
std::vector<StageSpec> read_stages(Context& ctx, const Value& stages,
                                   const std::filesystem::path& base_dir);

}  // namespace tandem::spec
