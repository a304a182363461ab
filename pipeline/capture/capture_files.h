// Reading what replay re-runs: capture files (SageMaker's or tandem's, a file, a folder or an
// S3 prefix) into Events, and batch-transform input objects split into records. Reads block;
// replay calls them off its event loop, one object at a time, so memory is bounded by one
// object's events.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pipeline/capture/record.h"
#include "pipeline/storage/object_store.h"
#include "pipeline/transform/options.h"

namespace tandem::capture {

// Where an event comes from, for messages: "capture/.../a.jsonl:12".
struct Source {
  std::string file;
  std::size_t line = 0;  // 1-based; for --input, the record's 1-based index
  std::string to_string() const;
};

struct SourcedEvent {
  Event event;
  Source source;
  std::vector<std::string> warnings;  // what could not be read but is not needed to replay it
};

struct MalformedLine {
  Source source;
  std::string message;
  static MalformedLine at(std::string file, std::size_t line, std::string message);
};

struct ObjectEvents {
  std::vector<SourcedEvent> events;
  std::vector<MalformedLine> malformed;
};

inline constexpr std::size_t kMaxCaptureLineBytes = 256ull * 1024 * 1024;

// The objects to read under `uri`, sorted: the object itself when `uri` names one, else
// every `.jsonl` object under it (capture files) or every object (`all`, batch inputs).
// Throws storage::StorageError.
struct Objects {
  storage::Location location;
  std::vector<std::string> keys;
};
Objects list_objects(const std::string& uri, bool all);

// One capture file's events; lines that are not capture records are reported, not fatal.
ObjectEvents read_capture_file(storage::ObjectStore& store, const std::string& key,
                               const std::string& display_name);

// One input object split into records, each an event with only an input (no captured answer).
struct InputSettings {
  std::string content_type;
  std::optional<std::string> accept;
  transform::SplitType split_type = transform::SplitType::none;
};
// Event ids are `<id_prefix>#<record number>`, e.g. "a.csv#3".
ObjectEvents read_input_object(storage::ObjectStore& store, const std::string& key,
                               const std::string& display_name, const std::string& id_prefix,
                               const InputSettings& settings);

}  // namespace tandem::capture
