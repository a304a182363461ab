// The bounds on each client connection of the front server, in one place that the server, its
// session's tests and the HTTP fuzzer read. The body limit and the read timeout are the spec's
// (server.max_payload_mb, server.request_read_timeout_s); the others are tandem's own.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "pipeline/spec/spec.h"

namespace tandem::server {

struct SessionLimits {
  // The request line and header fields.
  std::size_t header_bytes = 16 * 1024;
  std::uint64_t body_bytes = spec::ServerSpec{}.max_payload_bytes;
  // An open connection may wait idle_timeout for a request's first byte; from there the whole
  // request must arrive within read_timeout, however the client paces it.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  std::chrono::milliseconds read_timeout = spec::ServerSpec{}.request_read_timeout;
  std::chrono::milliseconds write_timeout = std::chrono::seconds(60);
  // After refusing a request whose body was not read, the connection reads and drops what the
  // client still sends, for this long and up to this many bytes, so that the client sees the
  // answer instead of a reset; a silent client must not hold its connection slot for ever.
  std::chrono::milliseconds linger_timeout = std::chrono::seconds(2);
  std::uint64_t linger_bytes = 256ull * 1024 * 1024;

  // These limits with the spec's body limit and read timeout.
  SessionLimits with(const spec::ServerSpec& server) const {
    SessionLimits limits = *this;
    limits.body_bytes = server.max_payload_bytes;
    limits.read_timeout = server.request_read_timeout;
    return limits;
  }
};

}  // namespace tandem::server
