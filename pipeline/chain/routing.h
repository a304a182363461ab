// The pure rules of a pipeline request: which stages a request visits and which headers
// each hop carries (contract section 2). No IO; tested directly.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/chain/invocation.h"
#include "pipeline/chain/transport.h"
#include "pipeline/spec/spec.h"
#include "tandem/proto/errors.h"

namespace tandem::chain {

// The stage indexes to call, in order: all of them in serial mode, the one the target
// header names in direct mode. A ValidationError for a missing/unknown/misplaced header.
proto::Result<std::vector<std::size_t>> plan_route(const spec::PipelineSpec& spec,
                                                   const Invocation& invocation);

// Headers for the hop to stage `stage` at position `position` of a route of `route_length`
// stages. `previous_content_type` is the Content-Type of the previous stage's response (for
// the first hop, ignored: the client's is used).
HopHeaders hop_headers(const spec::StageSpec& stage, std::size_t position, std::size_t route_length,
                       const Invocation& invocation,
                       const std::optional<std::string>& previous_content_type);

}  // namespace tandem::chain
