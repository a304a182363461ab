// GET /execution-parameters with a first stage that answers JSON nested too deep: the answer is
// ignored whole, as a malformed one is, and nothing recurses through it.
#include <catch2/catch.hpp>
#include <string>

#include "pipeline/server/http_mapping.h"

namespace tandem::server {
namespace {

const std::string defaults =
    R"({"BatchStrategy":"MULTI_RECORD","MaxConcurrentTransforms":1,"MaxPayloadInMB":6})";

TEST_CASE("execution parameters: an answer nested deeper than 512 levels is ignored whole",
          "[execparams]") {
  const spec::ExecutionParameters none;
  const std::string deep = std::string(20'000, '[') + std::string(20'000, ']');
  CHECK(execution_parameters(none, deep) == defaults);
  // Valid fields beside a value nested 513 deep are not taken: the answer is refused whole.
  const std::string beside = R"({"MaxConcurrentTransforms": 8, "x": )" + std::string(512, '[') +
                             std::string(512, ']') + "}";
  CHECK(execution_parameters(none, beside) == defaults);
  // 512 levels are fine.
  const std::string fits = R"({"MaxConcurrentTransforms": 8, "x": )" + std::string(511, '[') +
                           std::string(511, ']') + "}";
  CHECK(execution_parameters(none, fits) ==
        R"({"BatchStrategy":"MULTI_RECORD","MaxConcurrentTransforms":8,"MaxPayloadInMB":6})");
}

}  // namespace
}  // namespace tandem::server
