// Header values tandem forwards (from pipeline.yaml, a batch job, a capture file): a control
// character other than tab is refused with its code and position.
#include "tandem/proto/headers.h"

#include <catch2/catch.hpp>
#include <string>

namespace tandem::proto::header {
namespace {

TEST_CASE("check_value accepts printable text, tabs and bytes above 0x7f") {
  CHECK(check_value("").ok());
  CHECK(check_value("text/csv; charset=utf-8").ok());
  CHECK(check_value("a\tb").ok());
  CHECK(check_value("caf\xC3\xA9").ok());
}

TEST_CASE("check_value names the first control character and where it is") {
  const auto line_feed = check_value("ab\ncd\r");
  REQUIRE_FALSE(line_feed.ok());
  CHECK(line_feed.error() ==
        "control character 0x0a at position 2; a header value cannot hold one");
  const auto nul = check_value(std::string("\0", 1));
  REQUIRE_FALSE(nul.ok());
  CHECK(nul.error() == "control character 0x00 at position 0; a header value cannot hold one");
  const auto del = check_value("x\x7f");
  REQUIRE_FALSE(del.ok());
  CHECK(del.error() == "control character 0x7f at position 1; a header value cannot hold one");
}

}  // namespace
}  // namespace tandem::proto::header
