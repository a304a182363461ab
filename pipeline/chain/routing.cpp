#include "pipeline/chain/routing.h"

namespace tandem::chain {

proto::Result<std::vector<std::size_t>> plan_route(const spec::PipelineSpec& spec,
                                                   const Invocation& invocation) {
  if (spec.mode == spec::Mode::serial) {
    if (invocation.target_container) {
      return proto::Error::validation(
          "X-Amzn-SageMaker-Target-Container-Hostname is only valid for a pipeline in direct "
          "mode; pipeline '" +
          spec.name + "' is serial");
    }
    std::vector<std::size_t> all(spec.stages.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
  }
  if (!invocation.target_container) {
    return proto::Error::validation(
        "pipeline '" + spec.name +
        "' is in direct mode: set X-Amzn-SageMaker-Target-Container-Hostname to one of its "
        "stages");
  }
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    if (spec.stages[i].name == *invocation.target_container) return std::vector<std::size_t>{i};
  }
  std::string names;
  for (const auto& s : spec.stages) names += (names.empty() ? "" : ", ") + s.name;
  return proto::Error::validation("X-Amzn-SageMaker-Target-Container-Hostname '" +
                                  *invocation.target_container + "' names no stage of pipeline '" +
                                  spec.name + "' (stages: " + names + ")");
}

HopHeaders hop_headers(const spec::StageSpec& stage, std::size_t position, std::size_t route_length,
                       const Invocation& invocation,
                       const std::optional<std::string>& previous_content_type) {
  HopHeaders h;
  if (stage.content_type) {
    h.content_type = stage.content_type;
  } else {
    h.content_type = position == 0 ? invocation.content_type : previous_content_type;
  }
  if (stage.accept) {
    h.accept = stage.accept;
  } else if (position + 1 == route_length) {
    h.accept = invocation.accept;
  }
  h.custom_attributes = invocation.custom_attributes;
  h.inference_id = invocation.inference_id;
  h.traceparent = invocation.traceparent;
  return h;
}

}  // namespace tandem::chain
