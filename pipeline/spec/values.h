// Readers for the spec's own value types (names, durations, sizes, port ranges, paths), on
// top of the generic readers in yaml_reader.h. Internal to the spec module.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/spec/spec.h"
#include "pipeline/spec/yaml_reader.h"

namespace tandem::spec {

inline constexpr std::size_t kMaxNameLength = 63;
inline constexpr double kMaxSeconds = 3600;
inline constexpr double kMaxPayloadMegabytes = 100;

// SageMaker's rule for endpoint names and container hostnames,
// [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, at most 63 characters.
bool is_sagemaker_name(std::string_view name);
std::optional<std::string> read_sagemaker_name(Context& ctx, const Value& value);

// A non-empty string tandem sends as a request header (content_type, accept): no control
// characters, which would end the header early.
std::optional<std::string> read_header_value(Context& ctx, const Value& value);

// Seconds (fractions allowed, at most kMaxSeconds), rounded up to whole milliseconds.
std::optional<std::chrono::milliseconds> read_seconds(Context& ctx, const Value& value,
                                                      bool allow_zero);
// Megabytes (fractions allowed, > 0, at most kMaxPayloadMegabytes) as bytes, 1 MB = 1 MiB.
std::optional<std::uint64_t> read_megabytes(Context& ctx, const Value& value);
// "LOW-HIGH" with 1024 <= LOW <= HIGH <= 65535.
std::optional<PortRange> read_port_range(Context& ctx, const Value& value);
// A path, made absolute against `base_dir` (itself absolute) and lexically normalised.
std::optional<std::string> read_path(Context& ctx, const Value& value,
                                     const std::filesystem::path& base_dir);
std::string resolve_path(const std::filesystem::path& base_dir, const std::string& path);

}  // namespace tandem::spec
