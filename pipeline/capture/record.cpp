#include "pipeline/capture/record.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>

#include "pipeline/capture/base64.h"
#include "tandem/proto/field_errors.h"
#include "tandem/proto/headers.h"
#include "tandem/proto/json_depth.h"
#include "tandem/proto/media_type.h"

namespace tandem::capture {
namespace {

using Json = nlohmann::ordered_json;

// How much of an unreadable inferenceTime a warning quotes.
constexpr std::size_t kShownTimeBytes = 80;

bool listed(const std::vector<std::string>& types, const std::string& media) {
  return std::any_of(types.begin(), types.end(),
                     [&](const std::string& type) { return media_type(type) == media; });
}

Json payload_json(const Payload& payload, std::string_view mode, const ContentTypeRules& rules) {
  const Encoding encoding = rules.encoding_for(payload.content_type, payload.data);
  return Json{{"observedContentType", payload.content_type},
              {"mode", mode},
              {"data", encoding == Encoding::base64 ? base64_encode(payload.data) : payload.data},
              {"encoding", to_string(encoding)}};
}

Json stage_json(const StageRecord& stage, const ContentTypeRules& rules) {
  Json json{{"stage", stage.stage},
            {"container", stage.container},
            {"status", stage.status},
            {"durationUs", stage.duration.count()}};
  if (stage.input) json["input"] = payload_json(*stage.input, "INPUT", rules);
  if (stage.output) json["output"] = payload_json(*stage.output, "OUTPUT", rules);
  return json;
}

// Reading: each helper records the first problem with its key path.
struct Reader {
  std::string error;

  const nlohmann::json* member(const nlohmann::json& object, const char* key,
                               const std::string& path, bool required) {
    if (!object.is_object()) {
      fail(path, "expected an object");
      return nullptr;
    }
    // A key whose value is null reads as a missing one: real capture files write null for
    // what they do not know (AWS's LLM-monitoring schema: the answer's observedContentType).
    const auto found = object.find(key);
    if (found == object.end() || found->is_null()) {
      if (required) {
        fail(proto::child_path(path, key), found == object.end() ? "missing" : "missing (null)");
      }
      return nullptr;
    }
    return &*found;
  }

  std::optional<std::string> string(const nlohmann::json& object, const char* key,
                                    const std::string& path, bool required) {
    const auto* value = member(object, key, path, required);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) {
      fail(proto::child_path(path, key), "expected a string");
      return std::nullopt;
    }
    return value->get<std::string>();
  }

  // A value replay sends as a request header: a control character would end the header, or
  // the request, early (header injection from a crafted capture file).
  std::optional<std::string> header(const nlohmann::json& object, const char* key,
                                    const std::string& path, bool required) {
    auto value = string(object, key, path, required);
    if (!value) return value;
    const tandem::Status<std::string> checked = proto::header::check_value(*value);
    if (checked) return value;
    fail(proto::child_path(path, key), checked.error());
    return std::nullopt;
  }

  // observedContentType and encoding may be null or missing: absent. `mode` is not read (the
  // key, endpointInput or endpointOutput, says which payload it is), so it may be anything.
  std::optional<Payload> payload(const nlohmann::json& object, const std::string& path) {
    Payload payload;
    auto content_type = header(object, "observedContentType", path, false);
    auto data = string(object, "data", path, true);
    auto encoding = string(object, "encoding", path, false);
    if (!data || !error.empty()) return std::nullopt;
    payload.content_type = content_type.value_or("");
    if (!encoding) {
      payload.data = std::move(*data);  // no encoding was applied: the data is as written
      payload.encoding = std::nullopt;
    } else if (*encoding == "BASE64") {
      auto decoded = base64_decode(*data);
      if (!decoded) {
        fail(path + ".data", "not valid base64");
        return std::nullopt;
      }
      payload.data = std::move(*decoded);
      payload.encoding = Encoding::base64;
    } else if (*encoding == "CSV" || *encoding == "JSON") {
      payload.data = std::move(*data);
      payload.encoding = *encoding == "CSV" ? Encoding::csv : Encoding::json;
    } else {
      fail(path + ".encoding", fmt::format("expected CSV, JSON or BASE64, got \"{}\"", *encoding));
      return std::nullopt;
    }
    return payload;
  }

  void fail(const std::string& path, std::string_view what) {
    if (error.empty()) error = path + ": " + std::string(what);
  }
};

void read_stages(Reader& reader, const nlohmann::json& stages, Event& event) {
  if (!stages.is_array()) return reader.fail("tandem.stages", "expected a list");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const std::string path = fmt::format("tandem.stages[{}]", i);
    const auto& item = stages[i];
    StageRecord stage;
    if (auto name = reader.string(item, "stage", path, true)) stage.stage = *name;
    if (auto container = reader.string(item, "container", path, false))
      stage.container = *container;
    if (const auto* status = reader.member(item, "status", path, false);
        status && status->is_number_integer())
      stage.status = status->get<int>();
    if (const auto* us = reader.member(item, "durationUs", path, false);
        us && us->is_number_integer())
      stage.duration = std::chrono::microseconds(us->get<std::int64_t>());
    if (const auto* input = reader.member(item, "input", path, false))
      stage.input = reader.payload(*input, path + ".input");
    if (const auto* output = reader.member(item, "output", path, false))
      stage.output = reader.payload(*output, path + ".output");
    event.stages.push_back(std::move(stage));
  }
}

void read_extension(Reader& reader, const nlohmann::json& tandem, Event& event) {
  if (!tandem.is_object()) return reader.fail("tandem", "expected an object");
  event.accept = reader.header(tandem, "accept", "tandem", false);
  if (const auto* status = reader.member(tandem, "status", "tandem", false)) {
    if (!status->is_number_integer()) return reader.fail("tandem.status", "expected an integer");
    event.status = status->get<int>();
  }
  if (const auto* stages = reader.member(tandem, "stages", "tandem", false))
    read_stages(reader, *stages, event);
}

// The time is metadata for replay: a record whose time cannot be read is still an event, with a
// warning; a missing or null time is no time, without one.
void read_inference_time(const nlohmann::json& metadata, Event& event,
                         std::vector<std::string>& warnings) {
  if (!metadata.is_object()) return;
  const auto found = metadata.find("inferenceTime");
  if (found == metadata.end() || found->is_null()) return;
  if (found->is_string()) {
    if (auto time = parse_inference_time(found->get_ref<const std::string&>())) {
      event.inference_time = *time;
      return;
    }
  }
  std::string shown = found->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (shown.size() > kShownTimeBytes) shown = shown.substr(0, kShownTimeBytes) + "...";
  warnings.push_back(
      fmt::format("eventMetadata.inferenceTime: cannot read {} as a time "
                  "(expected yyyy-mm-ddThh:mm:ss[.fraction][Z|+hh:mm|-hh:mm])",
                  shown));
}

// Reads exactly `count` digits at `pos`, moving past them.
bool digits(std::string_view text, std::size_t& pos, int count, int& value) {
  if (pos + static_cast<std::size_t>(count) > text.size()) return false;
  value = 0;
  for (int i = 0; i < count; ++i, ++pos) {
    if (!std::isdigit(static_cast<unsigned char>(text[pos]))) return false;
    value = value * 10 + (text[pos] - '0');
  }
  return true;
}

// Reads one of `allowed` at `pos`, moving past it.
bool one_of(std::string_view text, std::size_t& pos, std::string_view allowed) {
  if (pos >= text.size() || allowed.find(text[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

// ".789012" (or ",789012", as ISO 8601 allows): 1 to 9 digits; nothing at all is no fraction.
std::optional<std::chrono::nanoseconds> fraction(std::string_view text, std::size_t& pos) {
  if (!one_of(text, pos, ".,")) return std::chrono::nanoseconds(0);
  std::int64_t value = 0;
  int count = 0;
  for (; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos) {
    if (++count > 9) return std::nullopt;
    value = value * 10 + (text[pos] - '0');
  }
  if (count == 0) return std::nullopt;
  for (; count < 9; ++count) value *= 10;
  return std::chrono::nanoseconds(value);
}

// What follows the time: "Z", "+hh:mm", "+hhmm", "+hh" (or '-'), or nothing (UTC).
std::optional<std::chrono::minutes> utc_offset(std::string_view zone) {
  if (zone.empty() || zone == "Z" || zone == "z") return std::chrono::minutes(0);
  std::size_t pos = 0;
  int hours = 0;
  int minutes = 0;
  if (!one_of(zone, pos, "+-") || !digits(zone, pos, 2, hours)) return std::nullopt;
  if (pos < zone.size()) {
    one_of(zone, pos, ":");
    if (!digits(zone, pos, 2, minutes)) return std::nullopt;
  }
  if (pos != zone.size() || hours > 23 || minutes > 59) return std::nullopt;
  const std::chrono::minutes offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
  return zone.front() == '-' ? -offset : offset;
}

}  // namespace

std::string_view to_string(Encoding encoding) {
  switch (encoding) {
    case Encoding::csv:
      return "CSV";
    case Encoding::json:
      return "JSON";
    case Encoding::base64:
      break;
  }
  return "BASE64";
}

std::string media_type(std::string_view content_type) {
  return proto::media_type(content_type, proto::Blanks::remove);
}

Encoding ContentTypeRules::encoding_for(std::string_view content_type,
                                        std::string_view data) const {
  const std::string media = media_type(content_type);
  Encoding encoding = Encoding::base64;
  if (listed(csv, media)) {
    encoding = Encoding::csv;
  } else if (listed(json, media)) {
    encoding = Encoding::json;
  }
  if (encoding != Encoding::base64 && !is_valid_utf8(data)) encoding = Encoding::base64;
  return encoding;
}

std::string format_inference_time(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

std::optional<std::chrono::system_clock::time_point> parse_inference_time(std::string_view text) {
  namespace chrono = std::chrono;
  std::size_t pos = 0;
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  const bool read =
      digits(text, pos, 4, year) && one_of(text, pos, "-") && digits(text, pos, 2, month) &&
      one_of(text, pos, "-") && digits(text, pos, 2, day) && one_of(text, pos, "Tt ") &&
      digits(text, pos, 2, hour) && one_of(text, pos, ":") && digits(text, pos, 2, minute) &&
      one_of(text, pos, ":") && digits(text, pos, 2, second);
  if (!read) return std::nullopt;
  const auto fractional = fraction(text, pos);
  const auto offset = utc_offset(text.substr(pos));
  const chrono::year_month_day date{chrono::year(year), chrono::month(static_cast<unsigned>(month)),
                                    chrono::day(static_cast<unsigned>(day))};
  // Second 60 is a leap second (RFC 3339); it reads as the next minute's first.
  if (!fractional || !offset || !date.ok() || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  const auto time = chrono::sys_days(date) + chrono::hours(hour) + chrono::minutes(minute) +
                    chrono::seconds(second) + *fractional - *offset;
  return chrono::time_point_cast<chrono::system_clock::duration>(time);
}

std::string to_json_line(const Event& event, const ContentTypeRules& rules) {
  Json capture_data = Json::object();
  if (event.input) capture_data["endpointInput"] = payload_json(*event.input, "INPUT", rules);
  if (event.output) capture_data["endpointOutput"] = payload_json(*event.output, "OUTPUT", rules);
  Json metadata{{"eventId", event.event_id}};
  if (event.inference_time)
    metadata["inferenceTime"] = format_inference_time(*event.inference_time);
  if (event.inference_id) metadata["inferenceId"] = *event.inference_id;
  if (event.custom_attributes) metadata["customAttributes"] = *event.custom_attributes;
  Json line{{"captureData", std::move(capture_data)},
            {"eventMetadata", std::move(metadata)},
            {"eventVersion", "0"}};
  Json extension = Json::object();
  if (event.accept) extension["accept"] = *event.accept;
  if (event.status != 200) extension["status"] = event.status;
  if (!event.stages.empty()) {
    Json stages = Json::array();
    for (const auto& stage : event.stages) stages.push_back(stage_json(stage, rules));
    extension["stages"] = std::move(stages);
  }
  if (!extension.empty()) line["tandem"] = std::move(extension);
  // Headers and content types are not guaranteed UTF-8: never throw on them.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Parsed parse_json_line(std::string_view line) {
  Parsed parsed;
  // A record nests 5 levels; a line from a hostile or corrupt file may nest 20,000.
  auto json = proto::json::parse_bounded<nlohmann::json>(line, parsed.error.message);
  if (json.is_discarded()) return parsed;
  if (!json.is_object()) {
    parsed.error.message = "expected a JSON object";
    return parsed;
  }
  Reader reader;
  Event event;
  const auto* data = reader.member(json, "captureData", "", true);
  const auto* metadata = reader.member(json, "eventMetadata", "", true);
  if (data) {
    if (const auto* input = reader.member(*data, "endpointInput", "captureData", false))
      event.input = reader.payload(*input, "captureData.endpointInput");
    if (const auto* output = reader.member(*data, "endpointOutput", "captureData", false))
      event.output = reader.payload(*output, "captureData.endpointOutput");
  }
  if (metadata) {
    if (auto id = reader.string(*metadata, "eventId", "eventMetadata", true)) event.event_id = *id;
    read_inference_time(*metadata, event, parsed.warnings);
    event.inference_id = reader.header(*metadata, "inferenceId", "eventMetadata", false);
    event.custom_attributes = reader.header(*metadata, "customAttributes", "eventMetadata", false);
  }
  if (const auto* extension = reader.member(json, "tandem", "", false))
    read_extension(reader, *extension, event);
  if (!reader.error.empty()) {
    parsed.error.message = std::move(reader.error);
    parsed.warnings.clear();
    return parsed;
  }
  parsed.event = std::move(event);
  return parsed;
}

}  // namespace tandem::capture
