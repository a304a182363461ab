// One data-capture record: SageMaker Model Monitor's JSON Lines format (contract section 5)
// plus tandem's optional extension, and the rules that pick each payload's encoding. Pure:
// the writer (writer.h) serialises records with to_json_line, replay reads them back with
// parse_json_line.
//
//   {"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",
//     "data":"1,2,3","encoding":"CSV"},"endpointOutput":{...,"mode":"OUTPUT",...}},
//    "eventMetadata":{"eventId":"<uuid>","inferenceTime":"2022-02-14T17:25:49Z",
//     "inferenceId":"...","customAttributes":"..."},"eventVersion":"0",
//    "tandem":{"accept":"...","status":424,"stages":[...]}}
//
// `tandem` is present only when it has something to say: the client's Accept, a status other
// than 200, or each stage's input and output (capture `stages: true`); docs/capture.md.
//
// The writer writes every field, times as "...Z" to the second. The reader takes what real
// capture files hold: a null value as a missing key (observedContentType and encoding may be
// either), times in the ISO-8601 forms below, and a time it cannot read as a warning, not an
// error (replay needs the payloads, not the time).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::capture {

enum class Encoding { csv, json, base64 };
std::string_view to_string(Encoding encoding);  // "CSV", "JSON", "BASE64"

// Which content types are stored as text (capture's csv_content_types, json_content_types).
// Matching is on the media type alone, case-insensitive: "text/csv; charset=utf-8" is text/csv.
struct ContentTypeRules {
  std::vector<std::string> csv{"text/csv"};
  std::vector<std::string> json{"application/json"};
  // CSV, JSON or BASE64 for a payload; text that is not valid UTF-8 is stored as BASE64.
  Encoding encoding_for(std::string_view content_type, std::string_view data) const;
};

// "text/csv" of "Text/CSV ; charset=utf-8": lower case, parameters and spaces removed.
std::string media_type(std::string_view content_type);

struct Payload {
  std::string content_type;  // observedContentType; empty when absent (null in a capture file)
  std::string data;          // the bytes, decoded
  // As read: absent when the file says null or nothing (the data is then taken as written).
  // The writer decides its own.
  std::optional<Encoding> encoding = Encoding::base64;
};

// One stage's part of an event (tandem extension).
struct StageRecord {
  std::string stage;
  std::string container;
  int status = 0;  // 0: the stage never answered
  std::chrono::microseconds duration{0};
  std::optional<Payload> input;
  std::optional<Payload> output;
};

struct Event {
  std::string event_id;  // a UUID
  // The writer stamps an event without one; a capture record may have none (missing, null, or
  // a time that cannot be read: replay replays it with a warning).
  std::optional<std::chrono::system_clock::time_point> inference_time;
  std::optional<std::string> inference_id;
  std::optional<std::string> custom_attributes;
  std::optional<std::string> accept;  // tandem extension: the client's Accept
  int status = 200;                   // tandem extension: what the client got
  std::optional<Payload> input;
  std::optional<Payload> output;
  std::vector<StageRecord> stages;  // tandem extension
};

// "2022-02-14T17:25:49Z" (seconds, UTC), the format of eventMetadata.inferenceTime.
std::string format_inference_time(std::chrono::system_clock::time_point time);
// The ISO-8601 times capture files carry: "2024-05-01T12:34:56", then optionally a fraction
// of 1 to 9 digits (".789012"), then "Z", a numeric offset ("+00:00", "-05:30", "+0530",
// "+05"; converted to UTC) or nothing (UTC). 't', 'z' and a space in place of 'T' are read
// too (RFC 3339). Nothing for anything else, such as an invalid date or a missing second.
std::optional<std::chrono::system_clock::time_point> parse_inference_time(std::string_view text);

// One line, without its line break.
std::string to_json_line(const Event& event, const ContentTypeRules& rules);

struct ParseError {
  std::string message;  // e.g. "captureData.endpointInput.data: not valid base64"
};
// An event, or why the line is not a capture record. An event may come with warnings: what
// could not be read but is not needed to replay it ("eventMetadata.inferenceTime: ...").
struct Parsed {
  std::optional<Event> event;
  ParseError error;
  std::vector<std::string> warnings;
};
Parsed parse_json_line(std::string_view line);

}  // namespace tandem::capture
