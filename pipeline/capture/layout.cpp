#include "pipeline/capture/layout.h"

#include <fmt/format.h>

#include <ctime>
#include <random>

namespace tandem::capture {
namespace {

std::tm utc_of(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  return utc;
}

}  // namespace

std::string random_uuid() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uint64_t high = generator();
  std::uint64_t low = generator();
  high = (high & ~0xF000ull) | 0x4000ull;      // version 4
  low = (low & ~(3ull << 62)) | (2ull << 62);  // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xFFFF,
                     high & 0xFFFF, low >> 48, low & 0xFFFFFFFFFFFFull);
}

std::string hour_folder(std::chrono::system_clock::time_point time) {
  const std::tm utc = utc_of(time);
  return fmt::format("{:04}/{:02}/{:02}/{:02}", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour);
}

std::string capture_file_key(std::string_view prefix, std::string_view endpoint,
                             std::chrono::system_clock::time_point first_record,
                             std::string_view uuid) {
  const std::tm utc = utc_of(first_record);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(first_record.time_since_epoch())
          .count() %
      1000;
  return fmt::format("{}{}/{}/{}/{:02}-{:02}-{:03}-{}.jsonl", prefix, endpoint, kVariant,
                     hour_folder(first_record), utc.tm_min, utc.tm_sec, millis, uuid);
}

}  // namespace tandem::capture
