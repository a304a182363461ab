// Hands out loopback ports from the spec's stage_port_range, checking that each is free
// (bindable on every local address) before giving it out. Starts at an offset derived from the seed
// so two tandem processes on one host rarely probe the same ports first.
#pragma once

#include <cstdint>
#include <optional>
#include <set>

#include "pipeline/spec/spec.h"

namespace tandem::supervisor {

bool port_is_free(std::uint16_t port);

class PortAllocator {
 public:
  using Probe = bool (*)(std::uint16_t);
  PortAllocator(spec::PortRange range, std::uint32_t seed, Probe probe = port_is_free);
  // A free port not currently held, preferring `preferred` when it is free; nullopt when the
  // whole range is taken.
  std::optional<std::uint16_t> acquire(std::optional<std::uint16_t> preferred = std::nullopt);
  void release(std::uint16_t port);

 private:
  spec::PortRange range_;
  std::uint32_t next_offset_;
  Probe probe_;
  std::set<std::uint16_t> held_;
};

}  // namespace tandem::supervisor
