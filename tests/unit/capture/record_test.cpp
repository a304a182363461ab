// The capture record format, field by field against contract section 5's example, encodings,
// the optional fields and tandem's extension, and reading records back.
#include "pipeline/capture/record.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pipeline/capture/base64.h"

namespace tandem::capture {
namespace {

using Json = nlohmann::ordered_json;

std::chrono::system_clock::time_point example_time() {
  return *parse_inference_time("2022-02-14T17:25:49Z");
}

Event example_event() {
  Event event;
  event.event_id = "5d1c4a3e-7c4b-4f7e-9d0c-2d3c5b1a0e9f";
  event.inference_time = example_time();
  event.input = Payload{"text/csv", "1,2,3"};
  event.output = Payload{"text/csv; charset=utf-8", "0.025"};
  return event;
}

std::vector<std::string> keys_of(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

TEST_CASE("a record has exactly the fields of the contract's example, in its order") {
  const Json line = Json::parse(to_json_line(example_event(), ContentTypeRules{}));
  CHECK(keys_of(line) == std::vector<std::string>{"captureData", "eventMetadata", "eventVersion"});
  CHECK(keys_of(line["captureData"]) ==
        std::vector<std::string>{"endpointInput", "endpointOutput"});
  const auto& input = line["captureData"]["endpointInput"];
  CHECK(keys_of(input) ==
        std::vector<std::string>{"observedContentType", "mode", "data", "encoding"});
  CHECK(input["observedContentType"] == "text/csv");
  CHECK(input["mode"] == "INPUT");
  CHECK(input["data"] == "1,2,3");
  CHECK(input["encoding"] == "CSV");
  const auto& output = line["captureData"]["endpointOutput"];
  CHECK(output["observedContentType"] == "text/csv; charset=utf-8");
  CHECK(output["mode"] == "OUTPUT");
  CHECK(output["data"] == "0.025");
  CHECK(output["encoding"] == "CSV");
  CHECK(keys_of(line["eventMetadata"]) == std::vector<std::string>{"eventId", "inferenceTime"});
  CHECK(line["eventMetadata"]["eventId"] == "5d1c4a3e-7c4b-4f7e-9d0c-2d3c5b1a0e9f");
  CHECK(line["eventMetadata"]["inferenceTime"] == "2022-02-14T17:25:49Z");
  CHECK(line["eventVersion"] == "0");
}

TEST_CASE("a record is one line") {
  auto event = example_event();
  event.input->data = "1,2,3\n4,5,6\n";
  const auto text = to_json_line(event, ContentTypeRules{});
  CHECK(text.find('\n') == std::string::npos);
}

TEST_CASE("inference id and custom attributes are recorded only when sent") {
  auto event = example_event();
  event.inference_id = "req-7";
  event.custom_attributes = "trace=abc";
  const Json line = Json::parse(to_json_line(event, ContentTypeRules{}));
  CHECK(keys_of(line["eventMetadata"]) ==
        std::vector<std::string>{"eventId", "inferenceTime", "inferenceId", "customAttributes"});
  CHECK(line["eventMetadata"]["inferenceId"] == "req-7");
  CHECK(line["eventMetadata"]["customAttributes"] == "trace=abc");
}

TEST_CASE("content types not listed are stored as base64, JSON ones as JSON text") {
  ContentTypeRules rules;
  auto event = example_event();
  event.input = Payload{"application/x-npy", std::string("\x93NUMPY\x00\x01", 8)};
  event.output = Payload{"Application/JSON; charset=utf-8", R"({"score":0.5})"};
  const Json line = Json::parse(to_json_line(event, rules));
  const auto& input = line["captureData"]["endpointInput"];
  CHECK(input["encoding"] == "BASE64");
  CHECK(input["data"] == base64_encode(std::string("\x93NUMPY\x00\x01", 8)));
  const auto& output = line["captureData"]["endpointOutput"];
  CHECK(output["encoding"] == "JSON");
  CHECK(output["data"] == R"({"score":0.5})");
}

TEST_CASE("a listed content type whose body is not UTF-8 is stored as base64") {
  auto event = example_event();
  event.input->data = "1,\xff,3";
  const Json line = Json::parse(to_json_line(event, ContentTypeRules{}));
  CHECK(line["captureData"]["endpointInput"]["encoding"] == "BASE64");
  CHECK(base64_decode(line["captureData"]["endpointInput"]["data"].get<std::string>()) ==
        "1,\xff,3");
}

TEST_CASE("the lists of text content types are the capture config's") {
  ContentTypeRules rules{{"text/plain"}, {}};
  CHECK(rules.encoding_for("text/plain", "x") == Encoding::csv);
  CHECK(rules.encoding_for("text/csv", "x") == Encoding::base64);
  CHECK(rules.encoding_for("application/json", "{}") == Encoding::base64);
}

TEST_CASE("modes: a record holds only what was captured") {
  auto event = example_event();
  event.output.reset();
  const Json line = Json::parse(to_json_line(event, ContentTypeRules{}));
  CHECK(keys_of(line["captureData"]) == std::vector<std::string>{"endpointInput"});
}

TEST_CASE("tandem's extension appears only when it has something to say") {
  auto event = example_event();
  event.accept = "application/json";
  event.status = 424;
  StageRecord stage{"featurize",
                    "container-1",
                    200,
                    std::chrono::microseconds(1500),
                    Payload{"text/csv", "1,2,3"},
                    Payload{"text/csv", "0.1,0.2"}};
  event.stages.push_back(stage);
  const Json line = Json::parse(to_json_line(event, ContentTypeRules{}));
  CHECK(keys_of(line) ==
        std::vector<std::string>{"captureData", "eventMetadata", "eventVersion", "tandem"});
  CHECK(line["tandem"]["accept"] == "application/json");
  CHECK(line["tandem"]["status"] == 424);
  const auto& s = line["tandem"]["stages"][0];
  CHECK(s["stage"] == "featurize");
  CHECK(s["container"] == "container-1");
  CHECK(s["status"] == 200);
  CHECK(s["durationUs"] == 1500);
  CHECK(s["input"]["mode"] == "INPUT");
  CHECK(s["output"]["data"] == "0.1,0.2");
}

TEST_CASE("a record reads back as the event it was written from") {
  auto event = example_event();
  event.inference_id = "id-1";
  event.custom_attributes = "a=b";
  event.accept = "text/csv";
  event.input = Payload{"application/octet-stream", std::string("\0\1\2", 3)};
  event.stages.push_back({"model", "container-2", 500, std::chrono::microseconds(7),
                          Payload{"text/csv", "1"}, Payload{"text/plain", "boom"}});
  const auto parsed = parse_json_line(to_json_line(event, ContentTypeRules{}));
  REQUIRE(parsed.event);
  const Event& back = *parsed.event;
  CHECK(back.event_id == event.event_id);
  CHECK(back.inference_time == event.inference_time);
  CHECK(back.inference_id == "id-1");
  CHECK(back.custom_attributes == "a=b");
  CHECK(back.accept == "text/csv");
  REQUIRE(back.input);
  CHECK(back.input->data == std::string("\0\1\2", 3));
  CHECK(back.input->encoding == Encoding::base64);
  CHECK(back.output->data == "0.025");
  CHECK(back.output->encoding == Encoding::csv);
  REQUIRE(back.stages.size() == 1);
  CHECK(back.stages[0].stage == "model");
  CHECK(back.stages[0].status == 500);
  CHECK(back.stages[0].output->data == "boom");
}

TEST_CASE("SageMaker's own records read, with fractional seconds") {
  const auto parsed = parse_json_line(
      R"({"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2,3","encoding":"CSV"},)"
      R"("endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"MC4wMjU=","encoding":"BASE64"}},)"
      R"("eventMetadata":{"eventId":"e1","inferenceTime":"2022-02-14T17:25:49.123Z"},"eventVersion":"0"})");
  REQUIRE(parsed.event);
  CHECK(parsed.event->output->data == "0.025");
  CHECK(format_inference_time(*parsed.event->inference_time) == "2022-02-14T17:25:49Z");
}

// A UTC time from its fields, for the expected values below.
std::chrono::system_clock::time_point utc(int y, unsigned mo, unsigned d, int h, int mi, int s,
                                          std::chrono::nanoseconds fraction = {}) {
  using namespace std::chrono;
  return time_point_cast<system_clock::duration>(sys_days(year(y) / month(mo) / day(d)) + hours(h) +
                                                 minutes(mi) + seconds(s) + fraction);
}

TEST_CASE("inferenceTime: the ISO-8601 forms real capture files carry") {
  using std::chrono::nanoseconds;
  const auto noon = utc(2024, 5, 1, 12, 34, 56);
  // The SageMaker Python SDK's Model Monitor integration tests: no zone, microseconds.
  CHECK(parse_inference_time("2024-05-01T12:34:56.789012") ==
        utc(2024, 5, 1, 12, 34, 56, nanoseconds(789'012'000)));
  CHECK(parse_inference_time("2024-05-01T12:34:56") == noon);   // no zone: UTC
  CHECK(parse_inference_time("2024-05-01T12:34:56Z") == noon);  // what SageMaker writes
  CHECK(parse_inference_time("2024-05-01T12:34:56.7Z") ==
        utc(2024, 5, 1, 12, 34, 56, nanoseconds(700'000'000)));
  CHECK(parse_inference_time("2024-05-01T12:34:56.123456789Z") ==
        utc(2024, 5, 1, 12, 34, 56, nanoseconds(123'456'789)));
  CHECK(parse_inference_time("2024-05-01T12:34:56,5Z") ==
        utc(2024, 5, 1, 12, 34, 56, nanoseconds(500'000'000)));
  CHECK(parse_inference_time("2024-05-01T12:34:56+00:00") == noon);  // Python's isoformat()
  CHECK(parse_inference_time("2024-05-01T12:34:56.789012+00:00") ==
        utc(2024, 5, 1, 12, 34, 56, nanoseconds(789'012'000)));
  CHECK(parse_inference_time("2024-05-01T14:34:56+02:00") == noon);
  CHECK(parse_inference_time("2024-05-01T14:34:56+0200") == noon);
  CHECK(parse_inference_time("2024-05-01T14:34:56+02") == noon);
  CHECK(parse_inference_time("2024-05-01T07:04:56-05:30") == noon);
  CHECK(parse_inference_time("2024-04-30T23:34:56-13:00") == noon);  // across midnight
  CHECK(parse_inference_time("2024-05-02T01:34:56+13:00") == noon);
  CHECK(parse_inference_time("2024-05-01 12:34:56") == noon);  // Python's str(datetime)
  CHECK(parse_inference_time("2024-05-01t12:34:56z") == noon);
  CHECK(parse_inference_time("2024-02-29T00:00:00Z") == utc(2024, 2, 29, 0, 0, 0));
  CHECK(parse_inference_time("2016-12-31T23:59:60Z") == utc(2017, 1, 1, 0, 0, 0));  // leap second
}

TEST_CASE("inferenceTime: what is not a time is nothing") {
  for (const char* text : {"",
                           "yesterday",
                           "1714566896",
                           "2024-05-01",
                           "2024-05-01T12:34",
                           "2024-05-01T12:34Z",
                           "2024-5-01T12:34:56Z",
                           "24-05-01T12:34:56Z",
                           "2024-05-01X12:34:56Z",
                           " 2024-05-01T12:34:56Z",
                           "2024-05-01T12:34:56Z ",
                           "2024-05-01T12:34:56 Z",
                           "2024-05-01T12:34:56ZZ",
                           "2024-05-01T12:34:56.Z",
                           "2024-05-01T12:34:56.1234567890Z",
                           "2024-05-01T12:34:56.12a",
                           "2024-05-01T12:34:56+2",
                           "2024-05-01T12:34:56+02:",
                           "2024-05-01T12:34:56+02:3",
                           "2024-05-01T12:34:56+02:300",
                           "2024-05-01T12:34:56+24:00",
                           "2024-05-01T12:34:56+02:60",
                           "2024-05-01T12:34:56UTC",
                           "2024-13-01T00:00:00Z",
                           "2024-00-01T00:00:00Z",
                           "2024-05-00T00:00:00Z",
                           "2023-02-29T00:00:00Z",
                           "2024-04-31T00:00:00Z",
                           "2024-05-01T24:00:00Z",
                           "2024-05-01T12:60:00Z",
                           "2024-05-01T12:34:61Z",
                           "2024-05-01T12:34:+5Z",
                           "2024-05-01T1 :34:56Z"}) {
    INFO(text);
    CHECK_FALSE(parse_inference_time(text));
  }
}

std::string sdk_record(const std::string& time) {
  return R"({"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2,3","encoding":"CSV"},)"
         R"("endpointOutput":{"observedContentType":"text/csv","mode":"OUTPUT","data":"0.5","encoding":"CSV"}},)"
         R"("eventMetadata":{"eventId":"e1","inferenceTime":)" +
         time + R"(},"eventVersion":"0"})";
}

TEST_CASE("a record whose time has no zone is read, the time as UTC") {
  const auto parsed = sdk_record(R"("2024-05-01T12:34:56.789012")");
  const auto read = parse_json_line(parsed);
  REQUIRE(read.event);
  CHECK(read.warnings.empty());
  CHECK(read.event->inference_time ==
        utc(2024, 5, 1, 12, 34, 56, std::chrono::nanoseconds(789'012'000)));
  CHECK(read.event->input->data == "1,2,3");
  CHECK(read.event->output->data == "0.5");
}

TEST_CASE("a record whose time cannot be read is still read, with a warning") {
  const auto words = parse_json_line(sdk_record(R"("yesterday")"));
  REQUIRE(words.event);
  CHECK_FALSE(words.event->inference_time);
  CHECK(words.event->output->data == "0.5");
  CHECK(words.warnings == std::vector<std::string>{
                              "eventMetadata.inferenceTime: cannot read \"yesterday\" as a "
                              "time (expected yyyy-mm-ddThh:mm:ss[.fraction][Z|+hh:mm|-hh:mm])"});
  const auto number = parse_json_line(sdk_record("1714566896"));
  REQUIRE(number.event);
  REQUIRE(number.warnings.size() == 1);
  CHECK(number.warnings[0].starts_with("eventMetadata.inferenceTime: cannot read 1714566896 as"));
  // Quoted escaped and cut: a warning is printed on a terminal.
  const auto long_text = parse_json_line(sdk_record("\"\\u001b[2J" + std::string(200, 'x') + "\""));
  REQUIRE(long_text.event);
  REQUIRE(long_text.warnings.size() == 1);
  CHECK(long_text.warnings[0].starts_with(
      "eventMetadata.inferenceTime: cannot read \"\\u001b[2Jxxx"));
  CHECK(long_text.warnings[0].find("x... as a time") != std::string::npos);
  CHECK(long_text.warnings[0].find('\x1b') == std::string::npos);
  // No time is no time, without a warning.
  for (
      const auto& line :
      {sdk_record("null"),
       std::string(
           R"({"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1","encoding":"CSV"}},"eventMetadata":{"eventId":"e"}})")}) {
    const auto read = parse_json_line(line);
    REQUIRE(read.event);
    CHECK_FALSE(read.event->inference_time);
    CHECK(read.warnings.empty());
  }
  // A line that is not a record has an error, not warnings.
  const auto broken = parse_json_line(
      R"({"captureData":{},"eventMetadata":{"inferenceTime":"yesterday"},"eventVersion":"0"})");
  CHECK_FALSE(broken.event);
  CHECK(broken.error.message == "eventMetadata.eventId: missing");
  CHECK(broken.warnings.empty());
}

TEST_CASE("null content type, mode and encoding read as absent (AWS's LLM-monitoring shape)") {
  const auto parsed = parse_json_line(
      R"({"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT","data":"{\"inputs\":\"Hi\"}","encoding":"JSON"},)"
      R"("endpointOutput":{"observedContentType":null,"mode":"OUTPUT","data":"[{\"generated_text\":\"Hello\"}]","encoding":"JSON"}},)"
      R"("eventMetadata":{"eventId":"llm-1","inferenceTime":"2024-05-01T12:34:56Z"},"eventVersion":"0"})");
  REQUIRE(parsed.event);
  CHECK(parsed.event->input->content_type == "application/json");
  CHECK(parsed.event->output->content_type.empty());
  CHECK(parsed.event->output->encoding == Encoding::json);
  CHECK(parsed.event->output->data == R"([{"generated_text":"Hello"}])");

  const auto nulls = parse_json_line(
      R"({"captureData":{"endpointInput":{"observedContentType":null,"mode":null,"data":"1,2","encoding":null},)"
      R"("endpointOutput":{"data":"MC41"}},)"
      R"("eventMetadata":{"eventId":"e","inferenceId":null,"customAttributes":null},"eventVersion":"0",)"
      R"("tandem":{"accept":null,"status":null}})");
  REQUIRE(nulls.event);
  CHECK(nulls.event->input->content_type.empty());
  CHECK_FALSE(nulls.event->input->encoding);
  CHECK(nulls.event->input->data == "1,2");
  // Without an encoding the data is taken as written, even when it looks like base64.
  CHECK(nulls.event->output->data == "MC41");
  CHECK_FALSE(nulls.event->inference_id);
  CHECK_FALSE(nulls.event->custom_attributes);
  CHECK_FALSE(nulls.event->accept);
  CHECK(nulls.event->status == 200);
}

TEST_CASE("what a record needs is still needed, null or not") {
  const std::string head = R"({"captureData":{"endpointInput":{"observedContentType":"text/csv",)";
  const std::string tail = R"(}},"eventMetadata":{"eventId":"x"}})";
  CHECK(parse_json_line(head + R"("data":null,"encoding":"CSV")" + tail).error.message ==
        "captureData.endpointInput.data: missing (null)");
  CHECK(parse_json_line(head + R"("encoding":"CSV")" + tail).error.message ==
        "captureData.endpointInput.data: missing");
  CHECK(parse_json_line(head + R"("data":"1","encoding":5)" + tail).error.message ==
        "captureData.endpointInput.encoding: expected a string");
  CHECK(
      parse_json_line(
          R"({"captureData":{"endpointInput":{"observedContentType":7,"data":"1"}},"eventMetadata":{"eventId":"x"}})")
          .error.message == "captureData.endpointInput.observedContentType: expected a string");
  CHECK(parse_json_line(R"({"captureData":{},"eventMetadata":{"eventId":null}})").error.message ==
        "eventMetadata.eventId: missing (null)");
  CHECK(parse_json_line(R"({"captureData":null,"eventMetadata":{"eventId":"x"}})").error.message ==
        "captureData: missing (null)");
}

TEST_CASE("the writer stays SageMaker-shaped: every field, the time as ...Z to the second") {
  auto event = example_event();
  event.inference_time = utc(2024, 5, 1, 12, 34, 56, std::chrono::nanoseconds(789'012'000));
  const Json line = Json::parse(to_json_line(event, ContentTypeRules{}));
  CHECK(line["eventMetadata"]["inferenceTime"] == "2024-05-01T12:34:56Z");
  CHECK(line["captureData"]["endpointOutput"]["observedContentType"] == "text/csv; charset=utf-8");
  CHECK(line["captureData"]["endpointOutput"]["encoding"] == "CSV");
}

TEST_CASE("lines that are not capture records say what is wrong") {
  CHECK(parse_json_line("{not json")
            .error.message.starts_with(
                "not valid JSON: parse error at line 1, column 3: syntax error"));
  CHECK(parse_json_line("[1]").error.message == "expected a JSON object");
  CHECK(parse_json_line(R"({"captureData":{}})").error.message == "eventMetadata: missing");
  CHECK(
      parse_json_line(
          R"({"captureData":{"endpointInput":{"observedContentType":"a/b","mode":"INPUT","data":"!!","encoding":"BASE64"}},"eventMetadata":{"eventId":"x"}})")
          .error.message == "captureData.endpointInput.data: not valid base64");
  CHECK(
      parse_json_line(
          R"({"captureData":{"endpointInput":{"observedContentType":"a/b","mode":"INPUT","data":"x","encoding":"XML"}},"eventMetadata":{"eventId":"x"}})")
          .error.message ==
      "captureData.endpointInput.encoding: expected CSV, JSON or BASE64, got \"XML\"");
}

TEST_CASE("a line nested deeper than 512 levels is refused before it is parsed, with where") {
  // 20,000 levels: parsed and then walked or copied, such a value overflows the stack.
  const std::string deep = std::string(20'000, '[') + std::string(20'000, ']');
  CHECK(parse_json_line(deep).error.message == "JSON nested deeper than 512 levels at byte 512");
  const std::string object_deep = R"({"captureData":{},"eventMetadata":{"eventId":"x"},"tandem":)" +
                                  std::string(600, '[') + std::string(600, ']') + "}";
  CHECK(parse_json_line(object_deep).error.message ==
        "JSON nested deeper than 512 levels at byte 570");
  // Brackets inside strings are text: a JSON body nested 20,000 deep is data, not nesting.
  const std::string body = std::string(20'000, '[') + std::string(20'000, ']');
  const auto parsed = parse_json_line(
      R"({"captureData":{"endpointOutput":{"observedContentType":"application/json","mode":"OUTPUT","data":")" +
      body + R"(","encoding":"JSON"}},"eventMetadata":{"eventId":"x"}})");
  REQUIRE(parsed.event);
  CHECK(parsed.event->output->data == body);
}

TEST_CASE("values replay sends as headers cannot carry a header of their own") {
  const std::string input =
      R"({"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1","encoding":"CSV"}},)";
  CHECK(
      parse_json_line(
          R"({"captureData":{"endpointInput":{"observedContentType":"text/csv\r\nX-Injected: 1","mode":"INPUT","data":"1","encoding":"CSV"}},"eventMetadata":{"eventId":"x"}})")
          .error.message ==
      "captureData.endpointInput.observedContentType: control character 0x0d at position 8; a "
      "header value cannot hold one");
  CHECK(parse_json_line(input + R"("eventMetadata":{"eventId":"x","inferenceId":"a\nb"}})")
            .error.message ==
        "eventMetadata.inferenceId: control character 0x0a at position 1; a header value cannot "
        "hold one");
  CHECK(parse_json_line(input + R"("eventMetadata":{"eventId":"x","customAttributes":"\u0000"}})")
            .error.message ==
        "eventMetadata.customAttributes: control character 0x00 at position 0; a header value "
        "cannot hold one");
  CHECK(parse_json_line(input + R"("eventMetadata":{"eventId":"x"},"tandem":{"accept":"a\u007f"}})")
            .error.message ==
        "tandem.accept: control character 0x7f at position 1; a header value cannot hold one");
  CHECK(parse_json_line(input + R"("eventMetadata":{"eventId":"x","customAttributes":"a\tb"}})")
            .error.message.empty());
}

TEST_CASE("base64 round trips and rejects what is not base64") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  for (const std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    CHECK(base64_decode(base64_encode(text)) == text);
  CHECK_FALSE(base64_decode("Zm9"));
  CHECK_FALSE(base64_decode("Zm9v!A=="));
  CHECK_FALSE(base64_decode("Z=9v"));
}

TEST_CASE("UTF-8 validity") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("caf\xc3\xa9"));
  CHECK_FALSE(is_valid_utf8("\xc3"));
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));  // a surrogate
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong
}

}  // namespace
}  // namespace tandem::capture
