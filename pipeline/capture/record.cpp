#include "pipeline/capture/record.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

#include "pipeline/capture/base64.h"
#include "tandem/proto/headers.h"
#include "tandem/proto/json_depth.h"

namespace tandem::capture {
namespace {

using Json = nlohmann::ordered_json;

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
    const auto found = object.find(key);
    if (found == object.end()) {
      if (required) fail(path.empty() ? key : path + "." + key, "missing");
      return nullptr;
    }
    return &*found;
  }

  std::optional<std::string> string(const nlohmann::json& object, const char* key,
                                    const std::string& path, bool required) {
    const auto* value = member(object, key, path, required);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) {
      fail(path.empty() ? key : path + "." + key, "expected a string");
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
    const auto problem = proto::header::value_problem(*value);
    if (!problem) return value;
    fail(path.empty() ? key : path + "." + key, *problem);
    return std::nullopt;
  }

  std::optional<Payload> payload(const nlohmann::json& object, const std::string& path) {
    Payload payload;
    auto content_type = header(object, "observedContentType", path, true);
    auto data = string(object, "data", path, true);
    auto encoding = string(object, "encoding", path, true);
    if (!content_type || !data || !encoding) return std::nullopt;
    payload.content_type = std::move(*content_type);
    if (*encoding == "BASE64") {
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
  std::string media;
  for (const char c : content_type.substr(0, content_type.find(';'))) {
    if (c != ' ' && c != '\t')
      media += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return media;
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
  std::tm utc{};
  int consumed = 0;
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  if (rest.starts_with('.')) {
    rest.remove_prefix(1);
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front())))
      rest.remove_prefix(1);
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(::timegm(&utc));
}

std::string to_json_line(const Event& event, const ContentTypeRules& rules) {
  Json capture_data = Json::object();
  if (event.input) capture_data["endpointInput"] = payload_json(*event.input, "INPUT", rules);
  if (event.output) capture_data["endpointOutput"] = payload_json(*event.output, "OUTPUT", rules);
  Json metadata{{"eventId", event.event_id},
                {"inferenceTime", format_inference_time(event.inference_time)}};
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
    if (auto time = reader.string(*metadata, "inferenceTime", "eventMetadata", false)) {
      if (auto parsed_time = parse_inference_time(*time)) {
        event.inference_time = *parsed_time;
      } else {
        reader.fail("eventMetadata.inferenceTime", "expected yyyy-mm-ddThh:mm:ssZ");
      }
    }
    event.inference_id = reader.header(*metadata, "inferenceId", "eventMetadata", false);
    event.custom_attributes = reader.header(*metadata, "customAttributes", "eventMetadata", false);
  }
  if (const auto* extension = reader.member(json, "tandem", "", false))
    read_extension(reader, *extension, event);
  if (!reader.error.empty()) {
    parsed.error.message = std::move(reader.error);
    return parsed;
  }
  parsed.event = std::move(event);
  return parsed;
}

}  // namespace tandem::capture
