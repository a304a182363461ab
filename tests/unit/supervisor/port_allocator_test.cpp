// The stages' port blocks over stage_port_range with a fake probe; the real probe on real
// sockets (listening, TIME_WAIT); what a shortage message says.
#include "pipeline/supervisor/port_allocator.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace tandem::supervisor {
namespace {

// What the fake probe sees on each port (free when absent), and every port it was asked about.
std::map<std::uint16_t, PortState> world;
std::vector<std::uint16_t> probed;

PortState fake_probe(std::uint16_t port) {
  probed.push_back(port);
  const auto it = world.find(port);
  return it == world.end() ? PortState::free : it->second;
}

// A fresh fake world for each test.
struct FakePorts {
  FakePorts() { clear(); }
  ~FakePorts() { clear(); }
  static void clear() {
    world.clear();
    probed.clear();
  }
};

struct Block {
  std::uint16_t bind;
  std::uint16_t low;
  std::uint16_t high;
  bool operator==(const Block&) const = default;
};

std::optional<Block> block(const std::optional<StagePorts>& ports) {
  if (!ports) return std::nullopt;
  return Block{ports->bind, ports->safe.low, ports->safe.high};
}

const spec::PortRange ten{9000, 9009};

TEST_CASE("each stage gets a block: its bind port, then its own safe range", "[ports]") {
  FakePorts fake;
  PortAllocator ports(ten, 4, 0, fake_probe);
  CHECK(ports.block_size() == 5);
  CHECK(block(ports.acquire()) == Block{9000, 9001, 9004});
  CHECK(block(ports.acquire()) == Block{9005, 9006, 9009});
  CHECK(block(ports.acquire()) == std::nullopt);
}

TEST_CASE("no safe range holds a bind port or another stage's safe range", "[ports]") {
  FakePorts fake;
  PortAllocator ports(spec::PortRange{20000, 20099}, 4, 12345, fake_probe);
  std::set<std::uint32_t> seen;
  for (int stage = 0; stage < 15; ++stage) {
    const auto got = ports.acquire();
    REQUIRE(got);
    CHECK(got->safe.high - got->safe.low + 1 == 4);
    CHECK((got->bind < got->safe.low || got->bind > got->safe.high));
    CHECK(seen.insert(got->bind).second);
    for (std::uint32_t p = got->safe.low; p <= got->safe.high; ++p) CHECK(seen.insert(p).second);
  }
}

TEST_CASE("the search starts at the seed's block and wraps around the range", "[ports]") {
  FakePorts fake;
  PortAllocator ports(spec::PortRange{9000, 9014}, 4, 7, fake_probe);  // 3 blocks: 7 % 3 = 1
  CHECK(block(ports.acquire()) == Block{9005, 9006, 9009});
  CHECK(block(ports.acquire()) == Block{9010, 9011, 9014});
  CHECK(block(ports.acquire()) == Block{9000, 9001, 9004});
  CHECK(block(ports.acquire()) == std::nullopt);
}

TEST_CASE("a block with a taken port is skipped, and the probe stops at the first", "[ports]") {
  FakePorts fake;
  world[9002] = PortState::taken;
  PortAllocator ports(ten, 4, 0, fake_probe);
  CHECK(block(ports.acquire()) == Block{9005, 9006, 9009});
  CHECK(probed == std::vector<std::uint16_t>{9000, 9001, 9002, 9005, 9006, 9007, 9008, 9009});
  probed.clear();
  CHECK(block(ports.acquire()) == std::nullopt);
  CHECK(probed == std::vector<std::uint16_t>{9000, 9001, 9002});  // held blocks are not probed
}

// Found by this test: the old probe bound without SO_REUSEADDR, so a port whose only sockets
// lingered in TIME_WAIT counted as taken and a narrow range ran out after a few jobs.
TEST_CASE("a port only in TIME_WAIT is usable, after every free block", "[ports]") {
  FakePorts fake;
  world[9001] = PortState::reusable;
  PortAllocator ports(ten, 4, 0, fake_probe);
  CHECK(block(ports.acquire()) == Block{9005, 9006, 9009});
  CHECK(block(ports.acquire()) == Block{9000, 9001, 9004});
  CHECK(block(ports.acquire()) == std::nullopt);
}

TEST_CASE("back-to-back jobs on a narrow range take turns and never run out", "[ports]") {
  FakePorts fake;
  // Every job starts with the same seed; the ports each left lingering steer the next.
  std::vector<std::uint16_t> binds;
  for (int job = 0; job < 8; ++job) {
    PortAllocator ports(ten, 4, 0, fake_probe);
    const auto got = ports.acquire();
    REQUIRE(got);
    binds.push_back(got->bind);
    // The stage closed its connections first: its port lingers in TIME_WAIT for 60 s.
    world[got->bind] = PortState::reusable;
  }
  CHECK(binds == std::vector<std::uint16_t>{9000, 9005, 9000, 9000, 9000, 9000, 9000, 9000});
}

TEST_CASE("a restart keeps the stage's ports while its bind port can be bound", "[ports]") {
  FakePorts fake;
  PortAllocator ports(ten, 4, 0, fake_probe);
  auto got = *ports.acquire();
  CHECK(ports.rebind(got));
  CHECK(block(got) == Block{9000, 9001, 9004});
  world[9000] = PortState::reusable;  // its own connections, in TIME_WAIT
  CHECK(ports.rebind(got));
  CHECK(block(got) == Block{9000, 9001, 9004});
}

TEST_CASE("a restart whose bind port is taken moves the bind port, never the safe range",
          "[ports]") {
  FakePorts fake;
  PortAllocator ports(spec::PortRange{9000, 9014}, 4, 0, fake_probe);
  auto first = *ports.acquire();  // 9000 + 9001-9004; the next search starts at block 1
  world[9000] = PortState::taken;
  CHECK(ports.rebind(first));
  CHECK(block(first) == Block{9005, 9001, 9004});

  SECTION("the moved port is held: no block is built on it") {
    CHECK(block(ports.acquire()) == Block{9010, 9011, 9014});
    CHECK(block(ports.acquire()) == std::nullopt);
  }
  SECTION("back home when the block's own port is free again; the other port is released") {
    world[9005] = PortState::taken;
    world.erase(9000);
    CHECK(ports.rebind(first));
    CHECK(block(first) == Block{9000, 9001, 9004});
    world.erase(9005);
    CHECK(block(ports.acquire()) == Block{9005, 9006, 9009});
  }
  SECTION("no port left: false, the ports unchanged") {
    for (std::uint16_t p = 9000; p <= 9014; ++p) world[p] = PortState::taken;
    CHECK_FALSE(ports.rebind(first));
    CHECK(block(first) == Block{9005, 9001, 9004});
  }
}

TEST_CASE("a range ending at 65535 does not overflow", "[ports]") {
  FakePorts fake;
  PortAllocator ports(spec::PortRange{65530, 65535}, 2, 1, fake_probe);
  CHECK(block(ports.acquire()) == Block{65533, 65534, 65535});
  CHECK(block(ports.acquire()) == Block{65530, 65531, 65532});
  CHECK(block(ports.acquire()) == std::nullopt);
}

TEST_CASE("a range smaller than one block has no block", "[ports]") {
  FakePorts fake;
  PortAllocator ports(spec::PortRange{9000, 9003}, 4, 99, fake_probe);
  CHECK(block(ports.acquire()) == std::nullopt);
}

TEST_CASE("/proc/net/tcp lines say what uses each port of the range", "[ports]") {
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode\n"
      "   0: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 11\n"
      "   1: 0100007F:2329 0100007F:9C40 06 00000000:00000000 03:00001770 00000000     0 0 0\n"
      "   2: 0100007F:232A 0100007F:9C41 01 00000000:00000000 00:00000000 00000000  1000 0 12\n"
      "   3: 0100007F:9C40 0100007F:2328 01 00000000:00000000 00:00000000 00000000  1000 0 13\n"
      "   4: garbage\n";
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000000000000:2329 00000000000000000000000000000000:0000 0A "
      "00000000:00000000 00:00000000 00000000  1000 0 14\n";
  std::map<std::uint16_t, SocketUse> uses;
  add_socket_uses(parse_tcp_table(tcp), spec::PortRange{9000, 9009}, uses);
  add_socket_uses(parse_tcp_table(tcp6), spec::PortRange{9000, 9009}, uses);
  REQUIRE(uses.size() == 3);  // 40000 (0x9C40) is outside the range
  CHECK(uses[9000].listening);
  CHECK((uses[9001].time_wait && uses[9001].listening && !uses[9001].other));
  CHECK((uses[9002].other && !uses[9002].listening && !uses[9002].time_wait));
}

TEST_CASE("a shortage message counts the ports by what holds them", "[ports]") {
  const spec::PortRange range{9000, 9011};
  const std::set<std::uint16_t> held{9000, 9001, 9002, 9003, 9004};
  std::map<std::uint16_t, PortState> states;
  for (std::uint16_t p = 9005; p <= 9011; ++p) states[p] = PortState::taken;
  states[9010] = PortState::reusable;
  states[9011] = PortState::free;
  std::map<std::uint16_t, SocketUse> uses;
  uses[9005].listening = true;
  uses[9007].listening = true;
  uses[9007].time_wait = true;
  uses[9008].listening = true;
  uses[9006].time_wait = true;
  uses[9010].time_wait = true;
  // 9009: taken, nothing in /proc (another socket on it, e.g. bound and not listening)
  CHECK(describe_ports(range, held, states, uses) ==
        "of its 12 ports: 5 held by this tandem's stages (9000-9004), 3 listening (9005, "
        "9007-9008), 1 in TIME_WAIT from a socket without SO_REUSEADDR (9006), 1 used by "
        "other sockets (9009), 1 only in TIME_WAIT (reusable) (9010), 1 free (9011)");
}

TEST_CASE("a shortage message shortens long port lists", "[ports]") {
  std::map<std::uint16_t, PortState> states;
  std::map<std::uint16_t, SocketUse> uses;
  for (std::uint16_t p = 9000; p < 9020; ++p) {
    states[p] = PortState::taken;
    uses[p].listening = p % 2 == 0;
    uses[p].other = p % 2 == 1;
  }
  CHECK(describe_ports(spec::PortRange{9000, 9019}, {}, states, uses) ==
        "of its 20 ports: 10 listening (9000, 9002, 9004, 9006, 9008, 9010, ...), 10 used by "
        "other sockets (9001, 9003, 9005, 9007, 9009, 9011, ...)");
}

// A socket on `ip` (host order); port 0 takes the kernel's choice.
int bound_socket(std::uint32_t ip, std::uint16_t port, bool reuse_address) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  const int on = 1;
  if (reuse_address) REQUIRE(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(ip);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

std::uint16_t port_of(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  return ntohs(addr.sin_port);
}

struct Listener {
  int fd = -1;
  std::uint16_t port = 0;
  Listener(std::uint32_t ip, bool reuse_address) : fd(bound_socket(ip, 0, reuse_address)) {
    REQUIRE(listen(fd, 1) == 0);
    port = port_of(fd);
  }
  ~Listener() { close(fd); }
};

TEST_CASE("probe_port: a port listened on, on 127.0.0.1 or another local address, is taken",
          "[ports][socket]") {
  const Listener loopback(INADDR_LOOPBACK, true);
  CHECK(probe_port(loopback.port) == PortState::taken);
  PortAllocator ports(spec::PortRange{loopback.port, loopback.port}, 0, 0);  // the real probe
  // A block of one port: a bind port and no safe range; never configured, but well-defined.
  CHECK_FALSE(ports.acquire());
  const Listener other(0x7f000002, true);  // 127.0.0.2: local on Linux, but not 127.0.0.1
  CHECK(probe_port(other.port) == PortState::taken);
}

// A server's side of a connection the server closed first: the port it listened on lingers
// in TIME_WAIT once the listener is gone.
std::uint16_t lingering_port(bool listener_reuses_address) {
  std::uint16_t port = 0;
  {
    const Listener listener(INADDR_LOOPBACK, listener_reuses_address);
    port = listener.port;
    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(client >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const int served = accept(listener.fd, nullptr, nullptr);
    REQUIRE(served >= 0);
    close(served);  // the server closes first: its side goes to TIME_WAIT
    char byte;
    REQUIRE(read(client, &byte, 1) == 0);  // the server's FIN arrived
    close(client);
  }
  return port;
}

TEST_CASE("probe_port: a port whose server socket lingers in TIME_WAIT is reusable",
          "[ports][socket]") {
  const std::uint16_t port = lingering_port(true);
  CHECK(probe_port(port) == PortState::reusable);
  // ... and a stage binding it as servers do (SO_REUSEADDR) can listen on it.
  const int fd = bound_socket(INADDR_ANY, port, true);
  CHECK(listen(fd, 1) == 0);
  close(fd);
}

TEST_CASE("probe_port: TIME_WAIT left by a server without SO_REUSEADDR is taken",
          "[ports][socket]") {
  const std::uint16_t port = lingering_port(false);
  CHECK(probe_port(port) == PortState::taken);
}

}  // namespace
}  // namespace tandem::supervisor
