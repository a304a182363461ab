// Result<T, E>, the one value-or-error type: which side it holds, how a value is moved out,
// and construction when T and E are the same type.
#include "tandem/proto/result.h"

#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace tandem {
namespace {

struct Problem {
  int code = 0;
  std::string message;
};

Result<int, Problem> half(int n) {
  if (n % 2 != 0) return Problem{1, "odd: " + std::to_string(n)};
  return n / 2;
}

Status<Problem> check_positive(int n) {
  if (n <= 0) return Problem{2, "not positive"};
  return {};
}

TEST_CASE("a Result holds a value or an error, never both", "[result]") {
  const auto good = half(8);
  REQUIRE(good.ok());
  REQUIRE(static_cast<bool>(good));
  CHECK(good.value() == 4);
  CHECK(*good == 4);
  CHECK_THROWS_AS(good.error(), std::bad_variant_access);

  const auto bad = half(7);
  REQUIRE_FALSE(bad.ok());
  REQUIRE_FALSE(static_cast<bool>(bad));
  CHECK(bad.error().code == 1);
  CHECK(bad.error().message == "odd: 7");
  CHECK_THROWS_AS(bad.value(), std::bad_variant_access);
}

TEST_CASE("a Result's value and error can be changed in place or moved out", "[result]") {
  Result<std::string, Problem> r = std::string("abc");
  r.value() += "d";
  CHECK(r->size() == 4);
  const std::string moved = std::move(r).value();
  CHECK(moved == "abcd");

  Result<std::unique_ptr<int>, Problem> owned = std::make_unique<int>(5);
  const std::unique_ptr<int> taken = *std::move(owned);
  REQUIRE(taken != nullptr);
  CHECK(*taken == 5);

  Result<int, Problem> failed = Problem{3, "x"};
  failed.error().message += "y";
  const Problem problem = std::move(failed).error();
  CHECK(problem.message == "xy");
}

TEST_CASE("Err and the named constructors say which side when T and E are the same type",
          "[result]") {
  const Result<std::string, std::string> good = Result<std::string, std::string>::success("v");
  REQUIRE(good.ok());
  CHECK(good.value() == "v");

  const Result<std::string, std::string> bad = Err{std::string("why")};
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == "why");

  const auto named = Result<std::string, std::string>::failure("because");
  REQUIRE_FALSE(named.ok());
  CHECK(named.error() == "because");

  // The implicit constructors are withdrawn when T and E are the same: either would fit.
  STATIC_REQUIRE_FALSE(std::is_convertible_v<std::string, Result<std::string, std::string>>);
  STATIC_REQUIRE(std::is_convertible_v<int, Result<int, Problem>>);
  STATIC_REQUIRE(std::is_convertible_v<Problem, Result<int, Problem>>);
}

TEST_CASE("a Status is success by default or the error that stopped the step", "[result]") {
  const auto good = check_positive(1);
  REQUIRE(good.ok());
  REQUIRE(static_cast<bool>(good));
  CHECK_THROWS_AS(good.error(), std::bad_optional_access);
  CHECK(Status<Problem>::success().ok());

  const auto bad = check_positive(0);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == 2);
  CHECK(bad.error().message == "not positive");

  const Status<std::string> from_tag = Err{std::string("no")};
  REQUIRE_FALSE(from_tag.ok());
  CHECK(from_tag.error() == "no");
  CHECK(Status<std::string>::failure("why").error() == "why");
}

}  // namespace
}  // namespace tandem
