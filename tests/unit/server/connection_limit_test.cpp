// How many client connections fit under the descriptor limit with tandem's own reserve.
#include <catch2/catch.hpp>

#include "pipeline/server/front_server.h"

namespace tandem::server {
namespace {

TEST_CASE("client connections fit beneath the descriptor limit less the reserve", "[limits]") {
  CHECK(fit_connection_limit(4096, 1'048'576, 200) == 4096);
  CHECK(fit_connection_limit(4096, 1024, 200) == 824);
  CHECK(fit_connection_limit(4096, 200, 200) == 1);
  CHECK(fit_connection_limit(4096, 100, 200) == 1);
  CHECK(fit_connection_limit(10, 1024, 200) == 10);
}

TEST_CASE("the reserve grows with each stage's requests in flight", "[limits]") {
  spec::PipelineSpec spec;
  const auto none = descriptor_reserve(spec);
  spec.stages.resize(2);
  spec.stages[0].max_inflight = 8;
  spec.stages[1].max_inflight = 100;
  CHECK(descriptor_reserve(spec) == none + 8 + 100 + 2 * 8);
}

}  // namespace
}  // namespace tandem::server
