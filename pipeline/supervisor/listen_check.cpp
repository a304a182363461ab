#include "pipeline/supervisor/listen_check.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "pipeline/supervisor/process_tree.h"

namespace tandem::supervisor {
namespace {

namespace fs = std::filesystem;

std::optional<std::uint64_t> hex_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The kernel prints each 32-bit word of the address in host byte order (little-endian here).
std::optional<std::string> decode_address(std::string_view hex) {
  if (hex.size() != 8 && hex.size() != 32) return std::nullopt;
  unsigned char bytes[16];
  for (std::size_t word = 0; word < hex.size() / 8; ++word) {
    const auto value = hex_number(hex.substr(word * 8, 8));
    if (!value) return std::nullopt;
    for (int i = 0; i < 4; ++i) bytes[word * 4 + i] = static_cast<unsigned char>(*value >> (8 * i));
  }
  char text[INET6_ADDRSTRLEN];
  const int family = hex.size() == 8 ? AF_INET : AF_INET6;
  if (inet_ntop(family, bytes, text, sizeof text) == nullptr) return std::nullopt;
  return std::string(text);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// `root`'s descendants, whatever sessions and process groups they moved to.
std::vector<fs::path> descendants_of(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  std::error_code ec;
  for (const auto& process : fs::directory_iterator("/proc", ec)) {
    const std::string name = process.path().filename().string();
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ptr !=
        name.data() + name.size())
      continue;
    const std::string stat = read_text(process.path() / "stat");
    if (process_tree::StatFields fields; process_tree::parse_stat(stat.data(), stat.size(), fields))
      children[fields.ppid].push_back(pid);
  }
  std::vector<fs::path> found;
  std::vector<pid_t> pending{root};
  // The snapshot is not atomic: a pid reused while it was read can make a cycle.
  std::set<pid_t> seen{root};
  while (!pending.empty()) {
    const pid_t pid = pending.back();
    pending.pop_back();
    for (const pid_t child : children[pid]) {
      if (!seen.insert(child).second) continue;
      found.push_back(fs::path("/proc") / std::to_string(child));
      pending.push_back(child);
    }
  }
  return found;
}

std::set<std::uint64_t> socket_inodes_below(pid_t root) {
  std::set<std::uint64_t> inodes;
  for (const fs::path& process : descendants_of(root)) {
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(process / "fd", fd_ec)) {
      std::error_code link_ec;
      const std::string target = fs::read_symlink(fd.path(), link_ec).string();
      if (link_ec || !target.starts_with("socket:[") || !target.ends_with(']')) continue;
      const std::string_view digits(target.data() + 8, target.size() - 9);
      std::uint64_t inode = 0;
      if (std::from_chars(digits.data(), digits.data() + digits.size(), inode).ec == std::errc{})
        inodes.insert(inode);
    }
  }
  return inodes;
}

}  // namespace

std::vector<TcpSocket> parse_tcp_table(std::string_view table) {
  std::vector<TcpSocket> sockets;
  std::istringstream lines{std::string(table)};
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode))
      continue;
    const auto colon = local.find(':');
    if (colon == std::string::npos) continue;
    const auto address = decode_address(std::string_view(local).substr(0, colon));
    const auto port = hex_number(std::string_view(local).substr(colon + 1));
    const auto state_number = hex_number(state);
    std::uint64_t number = 0;
    const bool inode_ok =
        std::from_chars(inode.data(), inode.data() + inode.size(), number).ec == std::errc{};
    if (!address || !port || *port > 65535 || !state_number || *state_number > 0xFF || !inode_ok)
      continue;
    sockets.push_back({*address, static_cast<std::uint16_t>(*port),
                       static_cast<std::uint8_t>(*state_number), number});
  }
  return sockets;
}

std::vector<TcpSocket> local_tcp_sockets() {
  std::vector<TcpSocket> sockets;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    for (TcpSocket& socket : parse_tcp_table(read_text(table)))
      sockets.push_back(std::move(socket));
  }
  return sockets;
}

std::vector<ListeningSocket> parse_listening(std::string_view table) {
  std::vector<ListeningSocket> listening;
  for (TcpSocket& socket : parse_tcp_table(table)) {
    if (socket.state == kTcpListen)
      listening.push_back({std::move(socket.address), socket.port, socket.inode});
  }
  return listening;
}

bool is_loopback(std::string_view address) {
  return address.starts_with("127.") || address == "::1" || address.starts_with("::ffff:127.");
}

std::string to_string(const ListeningSocket& socket) {
  if (socket.address.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", socket.address, socket.port);
  return fmt::format("{}:{}", socket.address, socket.port);
}

std::vector<ListeningSocket> exposed_listeners(pid_t root) {
  const std::set<std::uint64_t> inodes = socket_inodes_below(root);
  std::vector<ListeningSocket> exposed;
  if (inodes.empty()) return exposed;
  for (TcpSocket& socket : local_tcp_sockets()) {
    if (socket.state == kTcpListen && inodes.contains(socket.inode) && !is_loopback(socket.address))
      exposed.push_back({std::move(socket.address), socket.port, socket.inode});
  }
  return exposed;
}

}  // namespace tandem::supervisor
