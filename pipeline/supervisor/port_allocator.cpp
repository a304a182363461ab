#include "pipeline/supervisor/port_allocator.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>

namespace tandem::supervisor {
namespace {

// Port lists in a message stop after this many runs ("9000-9004, 9007, ...").
constexpr std::size_t kMaxRuns = 6;

bool binds(std::uint16_t port, bool reuse_address) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int on = 1;
  if (reuse_address) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  // The wildcard address collides with a bind on any local address, so a port someone holds
  // on another interface counts as taken (a stage may bind 0.0.0.0).
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return bound;
}

// "9000-9004, 9007, 9009-9010", at most kMaxRuns runs.
std::string runs(const std::vector<std::uint16_t>& ports) {
  std::string text;
  std::size_t count = 0;
  for (std::size_t i = 0; i < ports.size();) {
    std::size_t j = i;
    while (j + 1 < ports.size() && ports[j + 1] == ports[j] + 1) ++j;
    if (!text.empty()) text += ", ";
    if (++count > kMaxRuns) return text + "...";
    text += i == j ? fmt::format("{}", ports[i]) : fmt::format("{}-{}", ports[i], ports[j]);
    i = j + 1;
  }
  return text;
}

}  // namespace

PortState probe_port(std::uint16_t port) {
  if (binds(port, false)) return PortState::free;
  return binds(port, true) ? PortState::reusable : PortState::taken;
}

void add_socket_uses(const std::vector<TcpSocket>& sockets, spec::PortRange range,
                     std::map<std::uint16_t, SocketUse>& uses) {
  for (const TcpSocket& socket : sockets) {
    if (socket.port < range.low || socket.port > range.high) continue;
    SocketUse& use = uses[socket.port];
    if (socket.state == kTcpListen) {
      use.listening = true;
    } else if (socket.state == kTcpTimeWait) {
      use.time_wait = true;
    } else {
      use.other = true;
    }
  }
}

std::string describe_ports(spec::PortRange range, const std::set<std::uint16_t>& held,
                           const std::map<std::uint16_t, PortState>& states,
                           const std::map<std::uint16_t, SocketUse>& uses) {
  enum Kind { tandem, listening, time_wait, other, reusable, free, kinds };
  constexpr std::array<std::string_view, kinds> kNames = {
      "held by this tandem's stages",
      "listening",
      "in TIME_WAIT from a socket without SO_REUSEADDR",
      "used by other sockets",
      "only in TIME_WAIT (reusable)",
      "free",
  };
  std::array<std::vector<std::uint16_t>, kinds> ports;
  for (std::uint32_t p = range.low; p <= range.high; ++p) {
    const auto port = static_cast<std::uint16_t>(p);
    const auto state = states.find(port);
    const auto use = uses.find(port);
    const SocketUse sockets = use == uses.end() ? SocketUse{} : use->second;
    Kind kind = free;
    if (held.contains(port)) {
      kind = tandem;
    } else if (state != states.end() && state->second == PortState::reusable) {
      kind = reusable;
    } else if (state == states.end() || state->second == PortState::taken) {
      kind = sockets.listening ? listening : sockets.time_wait ? time_wait : other;
    }
    ports[kind].push_back(port);
  }
  std::string text = fmt::format("of its {} ports:", range.high - range.low + 1);
  const char* separator = " ";
  for (std::size_t kind = 0; kind < kinds; ++kind) {
    if (ports[kind].empty()) continue;
    text +=
        fmt::format("{}{} {} ({})", separator, ports[kind].size(), kNames[kind], runs(ports[kind]));
    separator = ", ";
  }
  return text;
}

PortAllocator::PortAllocator(spec::PortRange range, std::uint16_t safe_ports, std::uint32_t seed,
                             Probe probe)
    : range_(range),
      block_size_(1u + safe_ports),
      blocks_((static_cast<std::uint32_t>(range.high) - range.low + 1) / block_size_),
      next_block_(blocks_ == 0 ? 0 : seed % blocks_),
      probe_(probe) {}

std::optional<StagePorts> PortAllocator::acquire() {
  std::optional<std::uint32_t> chosen;
  for (std::uint32_t i = 0; i < blocks_; ++i) {
    const std::uint32_t block = (next_block_ + i) % blocks_;
    const std::uint32_t first = range_.low + block * block_size_;
    PortState worst = PortState::free;
    for (std::uint32_t p = first; p < first + block_size_ && worst != PortState::taken; ++p) {
      // Held: a block of another stage, or a port a restarted stage moved to.
      const auto port = static_cast<std::uint16_t>(p);
      worst = held_.contains(port) ? PortState::taken : std::max(worst, probe_(port));
    }
    if (worst == PortState::free) {
      chosen = block;
      break;
    }
    if (worst == PortState::reusable && !chosen) chosen = block;
  }
  if (!chosen) return std::nullopt;
  const std::uint32_t first = range_.low + *chosen * block_size_;
  for (std::uint32_t port = first; port < first + block_size_; ++port)
    held_.insert(static_cast<std::uint16_t>(port));
  next_block_ = (*chosen + 1) % blocks_;
  return StagePorts{
      static_cast<std::uint16_t>(first),
      {static_cast<std::uint16_t>(first + 1), static_cast<std::uint16_t>(first + block_size_ - 1)}};
}

std::optional<std::uint16_t> PortAllocator::any_port() {
  const std::uint32_t size = static_cast<std::uint32_t>(range_.high) - range_.low + 1;
  const std::uint32_t start = next_block_ * block_size_;
  std::optional<std::uint16_t> reusable;
  for (std::uint32_t i = 0; i < size; ++i) {
    const auto port = static_cast<std::uint16_t>(range_.low + (start + i) % size);
    if (held_.contains(port)) continue;
    const PortState state = probe_(port);
    if (state == PortState::free) return port;
    if (state == PortState::reusable && !reusable) reusable = port;
  }
  return reusable;
}

bool PortAllocator::rebind(StagePorts& ports) {
  if (probe_(ports.bind) != PortState::taken) return true;
  const auto home = static_cast<std::uint16_t>(ports.safe.low - 1);
  std::optional<std::uint16_t> moved;
  if (ports.bind != home && probe_(home) != PortState::taken) {
    moved = home;
  } else {
    moved = any_port();
  }
  if (!moved) return false;
  if (ports.bind != home) held_.erase(ports.bind);
  if (*moved != home) held_.insert(*moved);
  ports.bind = *moved;
  return true;
}

std::string PortAllocator::describe_shortage() const {
  std::map<std::uint16_t, PortState> states;
  for (std::uint32_t p = range_.low; p <= range_.high; ++p) {
    const auto port = static_cast<std::uint16_t>(p);
    if (!held_.contains(port)) states[port] = probe_(port);
  }
  std::map<std::uint16_t, SocketUse> uses;
  add_socket_uses(local_tcp_sockets(), range_, uses);
  return describe_ports(range_, held_, states, uses);
}

}  // namespace tandem::supervisor
