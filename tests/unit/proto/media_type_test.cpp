// The one media-type rule: parameters dropped, case folded, and blanks either trimmed around
// the type (the built-in stages) or removed everywhere (capture, batch transform).
#include "tandem/proto/media_type.h"

#include <catch2/catch.hpp>

namespace tandem::proto {
namespace {

TEST_CASE("media_type drops parameters and folds case") {
  for (const Blanks blanks : {Blanks::trim, Blanks::remove}) {
    CHECK(media_type("text/csv", blanks) == "text/csv");
    CHECK(media_type("Text/CSV; charset=utf-8", blanks) == "text/csv");
    CHECK(media_type("APPLICATION/JSON;", blanks) == "application/json");
    CHECK(media_type("", blanks) == "");
    CHECK(media_type("; charset=utf-8", blanks) == "");
    CHECK(media_type(" \t ", blanks) == "");
  }
}

TEST_CASE("media_type trims blanks around the type, or removes them everywhere") {
  CHECK(media_type(" \tText/CSV \t; charset=utf-8", Blanks::trim) == "text/csv");
  CHECK(media_type(" \tText/CSV \t; charset=utf-8", Blanks::remove) == "text/csv");
  CHECK(media_type(" text / csv ", Blanks::trim) == "text / csv");
  CHECK(media_type(" text / csv ", Blanks::remove) == "text/csv");
  CHECK(media_type("text/\tcsv", Blanks::remove) == "text/csv");
}

TEST_CASE("media_type leaves bytes outside ASCII letters as they are") {
  CHECK(media_type("Text/X-\xC3\x89T\xC3\x89", Blanks::trim) == "text/x-\xC3\x89t\xC3\x89");
  CHECK(media_type("a\nb", Blanks::remove) == "a\nb");
}

}  // namespace
}  // namespace tandem::proto
