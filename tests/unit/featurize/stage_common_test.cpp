// stages/common (tandem_stage_common): CSV rows, numbers as text, Content-Type and Accept.
// Its tests live here, with its first user, because tests/unit/common would build against
// tandem_common, the orchestrator's pipeline/common.
#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

#include "stages/common/csv.h"
#include "stages/common/media_type.h"
#include "stages/common/numbers.h"

namespace tandem::builtin {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows rows_of(std::string_view body) {
  CsvReader reader(body);
  std::vector<std::string_view> fields;
  Rows rows;
  for (;;) {
    auto more = reader.next(fields);
    REQUIRE(more.ok());
    if (!*more) return rows;
    CHECK(reader.row() == rows.size() + 1);
    rows.emplace_back(fields.begin(), fields.end());
  }
}

std::string csv_error(std::string_view body) {
  CsvReader reader(body);
  std::vector<std::string_view> fields;
  for (;;) {
    auto more = reader.next(fields);
    if (!more) {
      CHECK(more.error().status == 400);
      return more.error().message;
    }
    if (!*more) FAIL("no error reading " << body);
  }
}

TEST_CASE("CSV rows end at \\n or \\r\\n, the last newline is optional") {
  CHECK(rows_of("1,2\n3,4\n") == Rows{{"1", "2"}, {"3", "4"}});
  CHECK(rows_of("1,2\r\n3,4") == Rows{{"1", "2"}, {"3", "4"}});
  CHECK(rows_of("1,2\r") == Rows{{"1", "2"}});
  CHECK(rows_of("a\rb,c\n") == Rows{{"a\rb", "c"}});  // a lone \r inside a field is data
}

TEST_CASE("CSV empty lines are skipped and do not count as rows") {
  CHECK(rows_of("") == Rows{});
  CHECK(rows_of("\n\r\n\n") == Rows{});
  CHECK(rows_of("\n1\n\n\n2\n\n") == Rows{{"1"}, {"2"}});
}

TEST_CASE("CSV empty fields are kept") {
  CHECK(rows_of(",\n") == Rows{{"", ""}});
  CHECK(rows_of("1,,3,\n") == Rows{{"1", "", "3", ""}});
  CHECK(rows_of(" , x \n") == Rows{{" ", " x "}});
}

TEST_CASE("CSV quoted fields hold commas, line breaks and doubled quotes") {
  CHECK(rows_of(R"("a,b","say ""hi""",c)") == Rows{{"a,b", R"(say "hi")", "c"}});
  CHECK(rows_of("\"two\nlines\",x\n2\n") == Rows{{"two\nlines", "x"}, {"2"}});
  CHECK(rows_of(R"("",""""
)") == Rows{{"", "\""}});
  CHECK(rows_of("a\"b,c") == Rows{{"a\"b", "c"}});  // a quote inside an unquoted field is data
  CHECK(rows_of("\"x\"\r\n\"y\"") == Rows{{"x"}, {"y"}});
}

TEST_CASE("CSV errors name the row") {
  CHECK(csv_error("1\n\n\"abc\n") == "row 2: unterminated quoted field");
  CHECK(csv_error("\"ab\"c,d\n") ==
        "row 1: expected a comma or the end of the line after a quoted field, got 'c'");
}

TEST_CASE("append_csv_field quotes only when it must") {
  std::string out;
  append_csv_field(out, "plain");
  out += '|';
  append_csv_field(out, "a,b");
  out += '|';
  append_csv_field(out, "say \"hi\"");
  out += '|';
  append_csv_field(out, "two\nlines");
  CHECK(out == "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"");
}

TEST_CASE("missing values: empty or nan in any case") {
  for (const char* field : {"", " ", "nan", "NaN", "NAN", "nAn", " nan "}) {
    INFO(field);
    CHECK(is_missing(field));
  }
  for (const char* field : {"0", "nana", "-nan", "none", "null", "n"}) {
    INFO(field);
    CHECK_FALSE(is_missing(field));
  }
}

TEST_CASE("parse_number reads what Python's float() reads") {
  CHECK(parse_number("1.5") == 1.5);
  CHECK(parse_number(" -2e3 ") == -2000.0);
  CHECK(parse_number("+7") == 7.0);
  CHECK(parse_number(".5") == 0.5);
  CHECK(parse_number("inf") == std::numeric_limits<double>::infinity());
  CHECK(parse_number("-Infinity") == -std::numeric_limits<double>::infinity());
  for (const char* field : {"", " ", "abc", "1,5", "1.5x", "+-1", "++1", "0x10", "+"}) {
    INFO(field);
    CHECK_FALSE(parse_number(field).has_value());
  }
}

TEST_CASE("numbers are written shortest-exact, or with 15 digits") {
  std::string out;
  append_shortest(out, 0.1);
  out += ' ';
  append_shortest(out, -0.8416666666666668);
  out += ' ';
  append_shortest(out, 1e21);
  out += ' ';
  append_shortest(out, 3.0);
  out += ' ';
  append_shortest(out, 0.7310586f);
  out += ' ';
  append_decimal(out, 1 - 0.97);
  out += ' ';
  append_decimal(out, 0.123456789012);
  out += ' ';
  append_decimal(out, 1e-5);
  CHECK(out == "0.1 -0.8416666666666668 1e+21 3 0.7310586 0.03 0.123456789012 1e-05");
}

TEST_CASE("quote_for_message cuts long text") {
  CHECK(quote_for_message("abc") == "\"abc\"");
  CHECK(quote_for_message(std::string(50, 'x')) == "\"" + std::string(40, 'x') + "...\"");
}

TEST_CASE("media_type drops parameters and case") {
  CHECK(media_type("text/csv") == "text/csv");
  CHECK(media_type(" Text/CSV ; charset=utf-8") == "text/csv");
  CHECK(media_type("") == "");
  CHECK(request_media_type("", "text/csv") == "text/csv");
  CHECK(request_media_type("application/json; charset=utf-8", "text/csv") == "application/json");
}

TEST_CASE("unsupported_content_type names what is accepted") {
  const auto failure = unsupported_content_type("image/png", {"text/csv", "text/libsvm"});
  CHECK(failure.status == 415);
  CHECK(failure.message == "unsupported Content-Type \"image/png\": send text/csv or text/libsvm");
  CHECK(unsupported_content_type("x/y", {"a/b", "c/d", "e/f"}).message ==
        "unsupported Content-Type \"x/y\": send a/b, c/d or e/f");
}

std::string negotiated(std::string_view accept) {
  const auto result =
      negotiate_accept(accept, {"application/json", "text/csv", "application/jsonlines"});
  return result ? std::string(*result) : "406: " + result.error().message;
}

TEST_CASE("negotiate_accept") {
  CHECK(negotiated("") == "application/json");
  CHECK(negotiated("*/*") == "application/json");
  CHECK(negotiated("text/csv") == "text/csv");
  CHECK(negotiated("Text/CSV; charset=utf-8") == "text/csv");
  CHECK(negotiated("text/*") == "text/csv");
  CHECK(negotiated("application/jsonlines") == "application/jsonlines");
  SECTION("the client's order decides among equal q") {
    CHECK(negotiated("text/csv, application/json") == "text/csv");
    CHECK(negotiated("application/xml, application/jsonlines, text/csv") ==
          "application/jsonlines");
  }
  SECTION("q values") {
    CHECK(negotiated("text/csv;q=0.5, application/json") == "application/json");
    CHECK(negotiated("application/json;q=0, */*") == "text/csv");
    CHECK(negotiated("*/*;q=0.1, text/csv;q=0.2") == "text/csv");
    CHECK(negotiated("text/csv;q=abc") == "text/csv");
  }
  SECTION("nothing acceptable") {
    CHECK(negotiated("application/xml") ==
          "406: unsupported Accept \"application/xml\": use application/json, text/csv or "
          "application/jsonlines");
    CHECK(negotiated("text/csv;q=0") ==
          "406: unsupported Accept \"text/csv;q=0\": use application/json, text/csv or "
          "application/jsonlines");
  }
  const auto failure = negotiate_accept("image/*", {"text/csv"});
  REQUIRE_FALSE(failure.ok());
  CHECK(failure.error().status == 406);
  CHECK(failure.error().message == "unsupported Accept \"image/*\": use text/csv");
}

}  // namespace
}  // namespace tandem::builtin
