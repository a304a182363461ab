// The stages' ports, from the spec's stage_port_range. Each stage gets a block of
// 1 + stage_safe_ports consecutive ports: the first is its SAGEMAKER_BIND_TO_PORT, the rest its
// SAGEMAKER_SAFE_PORT_RANGE, which the stage binds as it likes (the TensorFlow Serving
// container binds the first two). Blocks are aligned on the range's low end and never overlap,
// so no stage's safe range holds another stage's port or its own bind port, and a stage keeps
// its block for its whole life, restarts included.
//
// A port is usable when a bind on the wildcard address with SO_REUSEADDR succeeds, as servers
// bind (gunicorn, Flask's server, nginx, gRPC and the stage SDK all set it): a port whose only
// sockets linger in TIME_WAIT is usable. A block with no socket at all is preferred to one
// with lingering sockets, so a job that follows another on the same range takes the ports the
// other did not leave in TIME_WAIT: the kernel's own table carries what the last job used from
// one tandem process to the next, with no state file. The search starts at a block derived
// from the seed, so two tandems started at once on one host rarely probe the same block first.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/spec/spec.h"
#include "pipeline/supervisor/listen_check.h"

namespace tandem::supervisor {

enum class PortState {
  free,      // no socket uses the port
  reusable,  // only sockets a bind with SO_REUSEADDR may share (TIME_WAIT)
  taken,     // listening, or held by a socket without SO_REUSEADDR
};

// Binds the wildcard address without, then with, SO_REUSEADDR.
PortState probe_port(std::uint16_t port);

struct StagePorts {
  std::uint16_t bind = 0;  // SAGEMAKER_BIND_TO_PORT
  spec::PortRange safe{};  // SAGEMAKER_SAFE_PORT_RANGE
};

// What `sockets` (listen_check.h: local_tcp_sockets) do on each local port of `range`, added
// to `uses`.
struct SocketUse {
  bool listening = false;
  bool time_wait = false;
  bool other = false;  // connected, or bound and not listening
};
void add_socket_uses(const std::vector<TcpSocket>& sockets, spec::PortRange range,
                     std::map<std::uint16_t, SocketUse>& uses);

// Why a range has no room: "of its 10 ports, 5 are held by this tandem's stages (9000-9004),
// 3 listening (9005, 9007-9008), 1 in TIME_WAIT (9006) and 1 free (9009)". `held` are the
// ports this tandem gave its stages; `states` and `uses` say what holds the others.
std::string describe_ports(spec::PortRange range, const std::set<std::uint16_t>& held,
                           const std::map<std::uint16_t, PortState>& states,
                           const std::map<std::uint16_t, SocketUse>& uses);

class PortAllocator {
 public:
  using Probe = PortState (*)(std::uint16_t);
  PortAllocator(spec::PortRange range, std::uint16_t safe_ports, std::uint32_t seed,
                Probe probe = probe_port);

  // A block for a new stage, free ports preferred to reusable ones; nullopt when no block
  // has every port usable and none held.
  std::optional<StagePorts> acquire();
  // At a restart: keeps `ports.bind` when it is still usable; else moves it to the block's
  // own first port or, failing that, to another usable port outside every block held (the
  // safe range never moves). False when there is none: `ports` is left as it was.
  bool rebind(StagePorts& ports);
  std::uint32_t block_size() const { return block_size_; }
  // Why acquire() or rebind() found nothing, from the probe and /proc/net/tcp and tcp6.
  std::string describe_shortage() const;

 private:
  std::optional<std::uint16_t> any_port();

  spec::PortRange range_;
  std::uint32_t block_size_;
  std::uint32_t blocks_;
  std::uint32_t next_block_;
  Probe probe_;
  std::set<std::uint16_t> held_;
};

}  // namespace tandem::supervisor
