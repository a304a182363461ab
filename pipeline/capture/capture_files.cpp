#include "pipeline/capture/capture_files.h"

#include <fmt/format.h>

#include <algorithm>

#include "pipeline/transform/splitter.h"

namespace tandem::capture {
namespace {

constexpr std::size_t kReadChunkBytes = 1024 * 1024;
constexpr std::uint64_t kMaxRecordBytes = 100ull * 1024 * 1024;

void take_line(std::string_view line, const std::string& name, std::size_t number,
               ObjectEvents& out) {
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  auto parsed = parse_json_line(line);
  if (!parsed.event) {
    out.malformed.push_back(MalformedLine::at(name, number, std::move(parsed.error.message)));
    return;
  }
  // Member by member, as MalformedLine::at below.
  SourcedEvent event;
  event.event = std::move(*parsed.event);
  event.source.file = name;
  event.source.line = number;
  event.warnings = std::move(parsed.warnings);
  out.events.push_back(std::move(event));
}

}  // namespace

// Built member by member: GCC 12 at -O3 reports a false -Wmaybe-uninitialized for the nested
// braced initialisation of these strings.
MalformedLine MalformedLine::at(std::string file, std::size_t line, std::string message) {
  MalformedLine malformed;
  malformed.source.file = std::move(file);
  malformed.source.line = line;
  malformed.message = std::move(message);
  return malformed;
}

std::string Source::to_string() const {
  return fmt::format("{}:{}", file, line);
}

Objects list_objects(const std::string& uri, bool all) {
  Objects objects{storage::open_location(uri), {}};
  auto& location = objects.location;
  for (const auto& info : location.store->list(location.prefix)) {
    if (info.key == location.prefix) {
      objects.keys = {info.key};  // the URI names one object
      return objects;
    }
    if (all || info.key.ends_with(".jsonl")) objects.keys.push_back(info.key);
  }
  if (objects.keys.empty())
    throw storage::StorageError(
        fmt::format("{}: no {} found", uri, all ? "objects" : "capture files (*.jsonl)"));
  return objects;
}

ObjectEvents read_capture_file(storage::ObjectStore& store, const std::string& key,
                               const std::string& display_name) {
  ObjectEvents out;
  auto stream = store.open(key);
  std::vector<char> buffer(kReadChunkBytes);
  std::string line;
  std::size_t number = 1;
  bool too_long = false;
  for (;;) {
    const std::size_t n = stream->read(buffer.data(), buffer.size());
    if (n == 0) break;
    std::string_view chunk(buffer.data(), n);
    while (!chunk.empty()) {
      const auto end = chunk.find('\n');
      const auto piece = chunk.substr(0, end);
      if (!too_long) line.append(piece);
      if (line.size() > kMaxCaptureLineBytes) {
        too_long = true;
        line.clear();
      }
      if (end == std::string_view::npos) break;
      if (too_long) {
        out.malformed.push_back(MalformedLine::at(
            display_name, number,
            fmt::format("line longer than {} MiB", kMaxCaptureLineBytes / (1024 * 1024))));
      } else {
        take_line(line, display_name, number, out);
      }
      line.clear();
      too_long = false;
      ++number;
      chunk.remove_prefix(end + 1);
    }
  }
  if (!line.empty()) take_line(line, display_name, number, out);
  return out;
}

ObjectEvents read_input_object(storage::ObjectStore& store, const std::string& key,
                               const std::string& display_name, const std::string& id_prefix,
                               const InputSettings& settings) {
  ObjectEvents out;
  auto stream = store.open(key);
  auto splitter = transform::make_splitter(settings.split_type, kMaxRecordBytes);
  auto take = [&](transform::Result<std::vector<transform::Record>> records) {
    if (!records) {
      out.malformed.push_back(MalformedLine::at(display_name, 0, records.error().message));
      return false;
    }
    for (auto& record : *records) {
      Event event;
      event.event_id = fmt::format("{}#{}", id_prefix, record.index + 1);
      event.accept = settings.accept;
      event.input = Payload{settings.content_type, std::string(record.content()), Encoding::base64};
      out.events.push_back({std::move(event), {display_name, record.index + 1}});
    }
    return true;
  };
  std::vector<char> buffer(kReadChunkBytes);
  for (;;) {
    const std::size_t n = stream->read(buffer.data(), buffer.size());
    if (n == 0) break;
    if (!take(splitter->feed(std::string_view(buffer.data(), n)))) return out;
  }
  take(splitter->finish());
  return out;
}

}  // namespace tandem::capture
