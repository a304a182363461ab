// The "did you mean" suggestion for misspelt keys and values.
#include "pipeline/spec/did_you_mean.h"

#include <array>
#include <catch2/catch.hpp>

namespace tandem::spec {
namespace {

constexpr std::array<std::string_view, 5> kKeys = {"timeout_s", "startup_timeout_s", "name",
                                                   "max_inflight", "env"};

TEST_CASE("edit_distance counts insertions, deletions and substitutions", "[did_you_mean]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("timout_s", "timeout_s") == 1);
  CHECK(edit_distance("Name", "name") == 0);
}

TEST_CASE("did_you_mean picks the closest key within distance 2", "[did_you_mean]") {
  CHECK(did_you_mean("timout_s", kKeys) == "timeout_s");
  CHECK(did_you_mean("nmae", kKeys) == "name");
  CHECK(did_you_mean("max_inflght", kKeys) == "max_inflight");
  CHECK(did_you_mean("ENV", kKeys) == "env");
}

TEST_CASE("did_you_mean falls back to a prefix match", "[did_you_mean]") {
  CHECK(did_you_mean("max_in", kKeys) == "max_inflight");
  CHECK(did_you_mean("startup", kKeys) == "startup_timeout_s");
  CHECK(did_you_mean("environment", kKeys) == "env");
}

TEST_CASE("did_you_mean suggests nothing for unrelated words", "[did_you_mean]") {
  CHECK_FALSE(did_you_mean("image", kKeys).has_value());
  CHECK_FALSE(did_you_mean("xyz", kKeys).has_value());
  // Too short for a prefix match to mean anything.
  CHECK_FALSE(did_you_mean("st", kKeys).has_value());
  CHECK_FALSE(did_you_mean("anything", std::span<const std::string_view>{}).has_value());
}

}  // namespace
}  // namespace tandem::spec
