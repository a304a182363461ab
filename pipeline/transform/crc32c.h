// CRC-32C (Castagnoli), the checksum TFRecord frames carry, and TFRecord's masking of it.
// Table-driven, byte at a time: TFRecord checks are far from the hot path of a transform job.
#pragma once

#include <cstdint>
#include <string_view>

namespace tandem::transform {

// CRC-32C of `data`; crc32c("123456789") == 0xE3069283. Pass a previous result as `crc` to
// continue a checksum over data that arrives in pieces.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

// TFRecord's mask, ((crc >> 15) | (crc << 17)) + 0xa282ead8: a CRC stored next to the data it
// covers must not look like a CRC of that data.
std::uint32_t mask_crc32c(std::uint32_t crc);

}  // namespace tandem::transform
