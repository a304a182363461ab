// Port allocation over stage_port_range with a fake probe, plus one check of the real probe.
#include "pipeline/supervisor/port_allocator.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace tandem::supervisor {
namespace {

using Port = std::optional<std::uint16_t>;

// What the fake probe sees as bound by someone else, and every port it was asked about.
std::set<std::uint16_t> taken;
std::vector<std::uint16_t> probed;

bool fake_probe(std::uint16_t port) {
  probed.push_back(port);
  return !taken.contains(port);
}

// A fresh fake world for each test.
struct FakePorts {
  FakePorts() {
    taken.clear();
    probed.clear();
  }
  ~FakePorts() {
    taken.clear();
    probed.clear();
  }
};

const spec::PortRange range{9000, 9004};

TEST_CASE("ports start at the seed's offset and wrap around the range", "[ports]") {
  FakePorts world;
  PortAllocator ports(range, 7, fake_probe);  // 7 % 5 = offset 2
  CHECK(ports.acquire() == Port(9002));
  CHECK(ports.acquire() == Port(9003));
  CHECK(ports.acquire() == Port(9004));
  CHECK(ports.acquire() == Port(9000));
  CHECK(ports.acquire() == Port(9001));
  CHECK(ports.acquire() == Port());
}

TEST_CASE("seed 0 starts at the low end", "[ports]") {
  FakePorts world;
  PortAllocator ports(range, 0, fake_probe);
  CHECK(ports.acquire() == Port(9000));
  CHECK(ports.acquire() == Port(9001));
  CHECK(probed == std::vector<std::uint16_t>{9000, 9001});
}

TEST_CASE("ports the probe reports taken are skipped", "[ports]") {
  FakePorts world;
  taken = {9002, 9003};
  PortAllocator ports(range, 2, fake_probe);
  CHECK(ports.acquire() == Port(9004));
  CHECK(probed == std::vector<std::uint16_t>{9002, 9003, 9004});
  probed.clear();
  CHECK(ports.acquire() == Port(9000));
  CHECK(probed == std::vector<std::uint16_t>{9000});
}

TEST_CASE("held ports are not probed or handed out twice", "[ports]") {
  FakePorts world;
  PortAllocator ports(spec::PortRange{9000, 9001}, 0, fake_probe);
  CHECK(ports.acquire() == Port(9000));
  CHECK(ports.acquire() == Port(9001));
  probed.clear();
  CHECK(ports.acquire() == Port());
  CHECK(probed.empty());
}

TEST_CASE("an exhausted range yields nullopt until a port is released", "[ports]") {
  FakePorts world;
  taken = {9000, 9002, 9003, 9004};
  PortAllocator ports(range, 0, fake_probe);
  CHECK(ports.acquire() == Port(9001));
  CHECK(ports.acquire() == Port());
  ports.release(9001);
  CHECK(ports.acquire() == Port(9001));
  ports.release(9001);
  ports.release(9001);  // releasing twice is harmless
  taken.erase(9003);
  CHECK(ports.acquire() == Port(9003));  // the search resumes after the last port handed out
  CHECK(ports.acquire() == Port(9001));
  CHECK(ports.acquire() == Port());
}

TEST_CASE("a preferred port is used when it is free and not held", "[ports]") {
  FakePorts world;
  PortAllocator ports(range, 0, fake_probe);
  CHECK(ports.acquire(9003) == Port(9003));
  CHECK(probed == std::vector<std::uint16_t>{9003});

  SECTION("held: the next free port of the range instead") {
    CHECK(ports.acquire(9003) == Port(9000));
  }
  SECTION("released then preferred again: the same port (a restart keeps its port)") {
    ports.release(9003);
    CHECK(ports.acquire(9003) == Port(9003));
  }
  SECTION("taken by someone else: the next free port of the range") {
    taken = {9004};
    CHECK(ports.acquire(9004) == Port(9000));
  }
  SECTION("a preferred port does not move the search offset") {
    CHECK(ports.acquire() == Port(9000));
    CHECK(ports.acquire() == Port(9001));
    CHECK(ports.acquire() == Port(9002));
    CHECK(ports.acquire() == Port(9004));
    CHECK(ports.acquire() == Port());
  }
}

TEST_CASE("a one-port range", "[ports]") {
  FakePorts world;
  PortAllocator ports(spec::PortRange{9100, 9100}, 12345, fake_probe);
  CHECK(ports.acquire() == Port(9100));
  CHECK(ports.acquire() == Port());
  ports.release(9100);
  CHECK(ports.acquire() == Port(9100));
}

TEST_CASE("a range ending at 65535 does not overflow", "[ports]") {
  FakePorts world;
  PortAllocator ports(spec::PortRange{65534, 65535}, 1, fake_probe);
  CHECK(ports.acquire() == Port(65535));
  CHECK(ports.acquire() == Port(65534));
  CHECK(ports.acquire() == Port());
}

// A listening socket on `ip` (host order) port 0; its port is the kernel's choice.
struct Listener {
  int fd = -1;
  std::uint16_t port = 0;
  explicit Listener(std::uint32_t ip) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(ip);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd, 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    REQUIRE(port != 0);
  }
  ~Listener() { close(fd); }
};

TEST_CASE("port_is_free reports a port bound on 127.0.0.1 as taken", "[ports][socket]") {
  const Listener listener(INADDR_LOOPBACK);
  const auto port = listener.port;
  CHECK_FALSE(port_is_free(port));
  PortAllocator ports(spec::PortRange{port, port}, 0);  // the real probe
  CHECK(ports.acquire() == Port());
}

// Found by this test: port_is_free probes 127.0.0.1 only, so a port some other program holds
// on another local address counts as free, yet a stage binding 0.0.0.0 (gunicorn's usual
// SAGEMAKER_BIND_TO_PORT setup) then fails with EADDRINUSE and, restarted on the same
// preferred port, fails again.
TEST_CASE("port_is_free reports a port bound on another local address as taken",
          "[ports][socket]") {
  const Listener listener(0x7f000002);  // 127.0.0.2: local on Linux, but not 127.0.0.1
  CHECK_FALSE(port_is_free(listener.port));
}

}  // namespace
}  // namespace tandem::supervisor
