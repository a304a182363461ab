#include "pipeline/transform/csv.h"

#include <catch2/catch.hpp>

using namespace tandem::transform;

namespace {
std::vector<std::string> fields(std::string_view record) {
  auto split = split_csv_record(record);
  if (!split) return {"error: " + split.error().message};
  return {split->begin(), split->end()};
}
}  // namespace

TEST_CASE("CSV fields keep their raw text", "[csv]") {
  CHECK(fields("1,2.5,abc") == std::vector<std::string>{"1", "2.5", "abc"});
  CHECK(fields(R"(7,"a,b","say ""hi""",)") ==
        std::vector<std::string>{"7", R"("a,b")", R"("say ""hi""")", ""});
  CHECK(fields("") == std::vector<std::string>{""});
  CHECK(fields(",") == std::vector<std::string>{"", ""});
  CHECK(fields(R"(5" screen,x)") == std::vector<std::string>{R"(5" screen)", "x"});
  CHECK(fields(R"("")") == std::vector<std::string>{R"("")"});
}

TEST_CASE("CSV errors name the position", "[csv]") {
  CHECK(fields(R"(1,"open)") == std::vector<std::string>{"error: CSV position 2: unterminated "
                                                         "quoted field"});
  CHECK(fields(R"("a"b,c)") == std::vector<std::string>{"error: CSV position 3: expected ',' "
                                                        "after a closing quote"});
}

TEST_CASE("CSV fields are quoted only when they need it", "[csv]") {
  CHECK(quote_csv_field("plain") == "plain");
  CHECK(quote_csv_field(R"({"a":1,"b":"x"})") == R"("{""a"":1,""b"":""x""}")");
  CHECK(quote_csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(quote_csv_field("") == "");
}
