// Reading where sockets listen from /proc/net/tcp and tcp6, and which addresses are loopback.
#include "pipeline/supervisor/listen_check.h"

#include <catch2/catch.hpp>

namespace tandem::supervisor {
namespace {

// Captured from a Linux host: a stage on 127.0.0.1:9001, one on 0.0.0.0:9002, an established
// connection to the first (not a listener), and a malformed line.
constexpr std::string_view kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:2329 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "4242 1 0000000000000000 100 0 0 10 0\n"
    "   1: 00000000:232A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "4343 1 0000000000000000 100 0 0 10 0\n"
    "   2: 0100007F:2329 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 "
    "4444 1 0000000000000000 20 4 30 10 -1\n"
    "   3: garbage\n";

constexpr std::string_view kTcp6 =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0\n"
    "   1: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 5252 1 0000000000000000 100 0 0 10 0\n";

TEST_CASE("listening sockets are read from /proc/net/tcp", "[listen_check]") {
  CHECK(parse_listening(kTcp) ==
        std::vector<ListeningSocket>{{"127.0.0.1", 9001, 4242}, {"0.0.0.0", 9002, 4343}});
  CHECK(parse_listening(kTcp6) ==
        std::vector<ListeningSocket>{{"::1", 8080, 5151}, {"::", 8081, 5252}});
  CHECK(parse_listening("").empty());
}

TEST_CASE("loopback addresses", "[listen_check]") {
  for (const char* address : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) {
    CAPTURE(address);
    CHECK(is_loopback(address));
  }
  for (const char* address : {"0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1"}) {
    CAPTURE(address);
    CHECK_FALSE(is_loopback(address));
  }
}

TEST_CASE("sockets print as address:port, IPv6 in brackets", "[listen_check]") {
  CHECK(to_string({"0.0.0.0", 9002, 1}) == "0.0.0.0:9002");
  CHECK(to_string({"::", 8081, 1}) == "[::]:8081");
}

}  // namespace
}  // namespace tandem::supervisor
