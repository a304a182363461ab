// Which invocations data capture keeps: exactly `percentage` of every 100, spread evenly
// (with 50, every second one), so a test or a user counting records sees the configured share
// rather than a random one. Used on the event loop only.
#pragma once

#include <cstdint>

namespace tandem::capture {

class Sampler {
 public:
  explicit Sampler(std::uint32_t percentage) : percentage_(percentage > 100 ? 100 : percentage) {}

  bool next() {
    const bool take = (seen_ + 1) * percentage_ / 100 > seen_ * percentage_ / 100;
    ++seen_;
    return take;
  }

 private:
  std::uint64_t percentage_;
  std::uint64_t seen_ = 0;
};

}  // namespace tandem::capture
