// ${VAR} expansion in spec strings: ${VAR}, ${VAR:-default} (used when VAR is unset or
// empty) and $$ for a literal $. A $ followed by anything else is kept as is, so argv such as
// awk programs ('{print $1}') need no escaping. Pure: variables come from an EnvLookup.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/spec/spec.h"

namespace tandem::spec {

struct Expansion {
  std::string text;                 // the expanded string, as far as it could be expanded
  std::vector<std::string> errors;  // one message per problem; empty on success
};

Expansion expand_env(std::string_view text, EnvLookup env);

// True for a valid environment variable name: [A-Za-z_][A-Za-z0-9_]*.
bool is_env_name(std::string_view name);

}  // namespace tandem::spec
