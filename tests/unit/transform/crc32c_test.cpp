#include "pipeline/transform/crc32c.h"

#include <catch2/catch.hpp>
#include <string>

using tandem::transform::crc32c;
using tandem::transform::mask_crc32c;

TEST_CASE("crc32c matches the standard check value and the iSCSI vectors", "[crc32c]") {
  CHECK(crc32c("123456789") == 0xE3069283U);
  CHECK(crc32c("") == 0U);
  // RFC 3720, B.4: 32 bytes of zeros, of 0xFF, and ascending 0..31.
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAU);
  CHECK(crc32c(std::string(32, '\xFF')) == 0x62A8AB43U);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  CHECK(crc32c(ascending) == 0x46DD794EU);
}

TEST_CASE("crc32c continues over data given in pieces", "[crc32c]") {
  CHECK(crc32c("6789", crc32c("12345")) == 0xE3069283U);
}

TEST_CASE("mask_crc32c rotates by 15 and adds TFRecord's delta", "[crc32c]") {
  CHECK(mask_crc32c(0) == 0xA282EAD8U);
  CHECK(mask_crc32c(0xE3069283U) == 0xC78AB0E5U);
}
