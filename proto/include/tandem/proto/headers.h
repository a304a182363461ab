// HTTP header names of the SageMaker runtime contract, as tandem reads and writes them.
// Header lookups are case-insensitive; these spellings are the ones sent.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "tandem/proto/result.h"

namespace tandem::proto::header {

inline constexpr std::string_view custom_attributes = "X-Amzn-SageMaker-Custom-Attributes";
inline constexpr std::string_view target_container_hostname =
    "X-Amzn-SageMaker-Target-Container-Hostname";
inline constexpr std::string_view inference_id = "X-Amzn-SageMaker-Inference-Id";
inline constexpr std::string_view target_variant = "X-Amzn-SageMaker-Target-Variant";
inline constexpr std::string_view invoked_production_variant = "x-Amzn-Invoked-Production-Variant";
inline constexpr std::string_view error_type = "x-amzn-ErrorType";
inline constexpr std::string_view request_id = "x-amzn-RequestId";
inline constexpr std::string_view server_timing = "Server-Timing";
inline constexpr std::string_view retry_after = "Retry-After";

inline constexpr std::string_view production_variant = "AllTraffic";

// Limits the runtime API puts on these headers.
inline constexpr std::size_t max_custom_attributes = 1024;
inline constexpr std::size_t max_inference_id = 64;

// Whether `value` can be sent as a header value; the error says why not: a control character
// (other than tab) would end the header, or the request, early (header injection).
inline Status<std::string> check_value(std::string_view value) {
  const auto bad = std::find_if(value.begin(), value.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && byte != '\t') || byte == 0x7f;
  });
  if (bad == value.end()) return Status<std::string>::success();
  const auto byte = static_cast<unsigned char>(*bad);
  const char hex[] = "0123456789abcdef";
  return std::string("control character 0x") + hex[byte >> 4] + hex[byte & 0xf] + " at position " +
         std::to_string(bad - value.begin()) + "; a header value cannot hold one";
}

}  // namespace tandem::proto::header
