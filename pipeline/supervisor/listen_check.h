// This host's TCP sockets, from /proc/net/tcp and tcp6, and where a stage's sockets listen. tandem
// calls stages on 127.0.0.1 only; a stage that listens on another address (0.0.0.0, a host address)
// can be called from other hosts, past the front's limits and capture, so tandem warns about it.
// Parsing /proc/net/tcp is pure; reading /proc is one function at the edge.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::supervisor {

// One socket of /proc/net/tcp or tcp6.
struct TcpSocket {
  std::string address;     // "127.0.0.1", "0.0.0.0", "::", "::1"
  std::uint16_t port = 0;  // local port
  std::uint8_t state = 0;  // the kernel's TCP state: kTcpListen, kTcpTimeWait, ...
  std::uint64_t inode = 0;
};
inline constexpr std::uint8_t kTcpTimeWait = 0x06;
inline constexpr std::uint8_t kTcpListen = 0x0A;

// The sockets in the text of /proc/net/tcp or /proc/net/tcp6 (header line included);
// malformed lines are skipped.
std::vector<TcpSocket> parse_tcp_table(std::string_view table);

// This host's TCP sockets, IPv4 and IPv6; empty when /proc cannot be read.
std::vector<TcpSocket> local_tcp_sockets();

struct ListeningSocket {
  std::string address;  // "127.0.0.1", "0.0.0.0", "::", "::1"
  std::uint16_t port = 0;
  std::uint64_t inode = 0;
  bool operator==(const ListeningSocket&) const = default;
};

// The sockets in the LISTEN state in the text of /proc/net/tcp or /proc/net/tcp6 (header
// line included); malformed lines are skipped.
std::vector<ListeningSocket> parse_listening(std::string_view table);

// 127.0.0.0/8, ::1 and ::ffff:127.x.y.z.
bool is_loopback(std::string_view address);

// "0.0.0.0:9001", "[::]:9001".
std::string to_string(const ListeningSocket& socket);

// The sockets that the descendants of `root` (a stage's shim: the stage, its workers and any
// daemon it started, in whatever session or process group) listen on at an address other
// than loopback. Empty when /proc cannot be read.
std::vector<ListeningSocket> exposed_listeners(pid_t root);

}  // namespace tandem::supervisor
