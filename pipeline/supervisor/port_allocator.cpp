#include "pipeline/supervisor/port_allocator.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tandem::supervisor {

bool port_is_free(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  // The wildcard address collides with a bind on any local address, so a port someone holds
  // on another interface counts as taken (a stage may bind 0.0.0.0). No SO_REUSEADDR: a port
  // with a connection lingering in TIME_WAIT counts as taken too.
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return free;
}

PortAllocator::PortAllocator(spec::PortRange range, std::uint32_t seed, Probe probe)
    : range_(range),
      next_offset_(seed % (static_cast<std::uint32_t>(range.high - range.low) + 1)),
      probe_(probe) {}

std::optional<std::uint16_t> PortAllocator::acquire(std::optional<std::uint16_t> preferred) {
  if (preferred && !held_.contains(*preferred) && probe_(*preferred)) {
    held_.insert(*preferred);
    return preferred;
  }
  const std::uint32_t size = static_cast<std::uint32_t>(range_.high - range_.low) + 1;
  for (std::uint32_t i = 0; i < size; ++i) {
    const auto port = static_cast<std::uint16_t>(range_.low + (next_offset_ + i) % size);
    if (held_.contains(port) || !probe_(port)) continue;
    next_offset_ = (next_offset_ + i + 1) % size;
    held_.insert(port);
    return port;
  }
  return std::nullopt;
}

void PortAllocator::release(std::uint16_t port) {
  held_.erase(port);
}

}  // namespace tandem::supervisor
