// Where capture files go, SageMaker's layout:
// `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl`, the hour
// being the UTC hour of the file's first record. Pure but for the random UUID.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace tandem::capture {

inline constexpr std::string_view kVariant = "AllTraffic";

// A random (version 4) UUID, e.g. "1b4e28ba-2fa1-41d2-883f-0016d3cca427".
std::string random_uuid();

// "yyyy/mm/dd/hh" of `time` in UTC.
std::string hour_folder(std::chrono::system_clock::time_point time);

// The key of a new capture file under `prefix` (a store's key prefix: empty, or ending in
// '/'), named after `first_record`'s time within its hour.
std::string capture_file_key(std::string_view prefix, std::string_view endpoint,
                             std::chrono::system_clock::time_point first_record,
                             std::string_view uuid);

}  // namespace tandem::capture
