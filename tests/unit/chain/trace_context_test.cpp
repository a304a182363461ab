// W3C Trace Context: the client's traceparent reaches every stage of the route unchanged
// (tandem forwards it; it records no spans of its own).
#include <catch2/catch.hpp>

#include "pipeline/chain/routing.h"

namespace tandem::chain {
namespace {

constexpr const char* traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

spec::StageSpec stage(std::string name, int position) {
  spec::StageSpec s;
  s.name = std::move(name);
  s.container = "container-" + std::to_string(position);
  return s;
}

TEST_CASE("every hop carries the client's traceparent", "[routing][trace]") {
  Invocation inv;
  inv.inference_id = "req-1";
  inv.traceparent = traceparent;
  const std::vector<spec::StageSpec> stages{stage("a", 1), stage("b", 2), stage("c", 3)};
  for (std::size_t position = 0; position < stages.size(); ++position) {
    const auto h = hop_headers(stages[position], position, stages.size(), inv, "text/csv");
    CHECK(h.traceparent == std::optional<std::string>(traceparent));
  }
}

TEST_CASE("no traceparent from the client, none to the stages", "[routing][trace]") {
  Invocation inv;
  inv.inference_id = "req-2";
  CHECK_FALSE(hop_headers(stage("a", 1), 0, 1, inv, std::nullopt).traceparent.has_value());
}

}  // namespace
}  // namespace tandem::chain
