#include "pipeline/spec/capture_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "pipeline/spec/values.h"

namespace tandem::spec {
namespace {

constexpr std::array<std::string_view, 11> kCaptureKeys = {
    "destination", "sampling_percentage", "modes",    "csv_content_types", "json_content_types",
    "stages",      "max_file_mb",         "rotate_s", "queue_records",     "queue_mb",
    "enabled",
};
constexpr std::array<std::string_view, 2> kModes = {"Input", "Output"};
constexpr std::array<std::string_view, 2> kBooleans = {"false", "true"};
constexpr std::int64_t kMaxQueueRecords = 1'000'000;
constexpr double kMaxFileMegabytes = 1024;
constexpr double kMaxQueueMegabytes = 16 * 1024;
constexpr double kBytesPerMegabyte = 1024.0 * 1024.0;

std::optional<std::string> read_destination(Context& ctx, const Value& value,
                                            const std::filesystem::path& base_dir) {
  auto text = read_string(ctx, value);
  if (!text) return std::nullopt;
  if (text->starts_with("s3://")) {
    const auto bucket = std::string_view(*text).substr(5);
    if (bucket.empty() || bucket.front() == '/') {
      ctx.error(value.mark, value.path, proto::expected("s3://bucket/prefix", quote(*text)));
      return std::nullopt;
    }
    return text;
  }
  if (text->find("://") != std::string::npos && !text->starts_with("file://")) {
    ctx.error(value.mark, value.path,
              proto::expected("a local folder or s3://bucket/prefix", quote(*text)));
    return std::nullopt;
  }
  if (text->starts_with("file://")) return text;
  return resolve_path(base_dir, *text);
}

void read_modes(Context& ctx, const Value& value, CaptureSpec& capture) {
  if (!value.node.IsSequence() || value.node.size() == 0) {
    ctx.error(value.mark, value.path,
              proto::expected("a non-empty list of Input and Output",
                              value.node.IsSequence() ? "an empty list" : describe(value.node)));
    return;
  }
  bool input = false;
  bool output = false;
  std::size_t index = 0;
  for (const YAML::Node& item : value.node) {
    const Value mode = element(value, index++, item);
    const auto choice = read_choice(ctx, mode, kModes);
    if (!choice) continue;
    bool& seen = *choice == 0 ? input : output;
    if (seen) ctx.error(mode.mark, mode.path, fmt::format("{} is listed twice", kModes[*choice]));
    seen = true;
  }
  capture.input = input;
  capture.output = output;
}

void read_content_types(Context& ctx, const Value& value, std::vector<std::string>& types) {
  if (!value.node.IsSequence()) {
    ctx.error(value.mark, value.path,
              proto::expected("a list of content types", describe(value.node)));
    return;
  }
  std::vector<std::string> read;
  std::size_t index = 0;
  for (const YAML::Node& item : value.node) {
    const Value type = element(value, index++, item);
    auto text = read_string(ctx, type);
    if (!text) continue;
    if (text->find('/') == std::string::npos) {
      ctx.error(type.mark, type.path,
                proto::expected("a media type such as text/csv", quote(*text)));
      continue;
    }
    read.push_back(std::move(*text));
  }
  types = std::move(read);
}

std::optional<bool> read_boolean(Context& ctx, const Value& value) {
  const auto choice = read_choice(ctx, value, kBooleans);
  if (!choice) return std::nullopt;
  return *choice == 1;
}

std::optional<std::uint64_t> read_size(Context& ctx, const Value& value, double max) {
  const auto megabytes = read_number(
      ctx, value, {.expected = "a positive number of megabytes", .unit = "MB", .max = max});
  if (!megabytes) return std::nullopt;
  return static_cast<std::uint64_t>(std::ceil(*megabytes * kBytesPerMegabyte));
}

void read_limits(Context& ctx, const Fields& fields, CaptureSpec& capture) {
  if (auto v = fields.get("max_file_mb")) {
    if (auto bytes = read_size(ctx, *v, kMaxFileMegabytes)) capture.max_file_bytes = *bytes;
  }
  if (auto v = fields.get("rotate_s")) {
    if (auto interval = read_seconds(ctx, *v, false)) capture.rotate_interval = *interval;
  }
  if (auto v = fields.get("queue_records")) {
    if (auto n = read_integer(ctx, *v, 1, kMaxQueueRecords)) {
      capture.queue_records = static_cast<std::uint32_t>(*n);
    }
  }
  if (auto v = fields.get("queue_mb")) {
    if (auto bytes = read_size(ctx, *v, kMaxQueueMegabytes)) capture.queue_bytes = *bytes;
  }
}

}  // namespace

CaptureSpec read_capture(Context& ctx, const Value& value, const std::filesystem::path& base_dir) {
  CaptureSpec capture;
  const Fields fields(ctx, value, kCaptureKeys);
  if (!fields.is_map()) return capture;
  if (auto v = fields.require("destination")) {
    if (auto destination = read_destination(ctx, *v, base_dir)) capture.destination = *destination;
  }
  if (auto v = fields.get("sampling_percentage")) {
    if (auto n = read_integer(ctx, *v, 0, 100)) {
      capture.sampling_percentage = static_cast<std::uint32_t>(*n);
    }
  }
  if (auto v = fields.get("enabled")) {
    if (auto enabled = read_boolean(ctx, *v); enabled && !*enabled) capture.sampling_percentage = 0;
  }
  if (auto v = fields.get("modes")) read_modes(ctx, *v, capture);
  if (auto v = fields.get("csv_content_types")) {
    read_content_types(ctx, *v, capture.csv_content_types);
  }
  if (auto v = fields.get("json_content_types")) {
    read_content_types(ctx, *v, capture.json_content_types);
  }
  if (auto v = fields.get("stages")) {
    if (auto stages = read_boolean(ctx, *v)) capture.stages = *stages;
  }
  read_limits(ctx, fields, capture);
  return capture;
}

}  // namespace tandem::spec
