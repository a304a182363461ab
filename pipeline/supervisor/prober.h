// The seam between the supervisor and a stage's health endpoint: one GET /ping to a stage's
// port on loopback, with a deadline. HTTP is the real prober; the supervisor's unit tests
// answer from a script. What counts as healthy (200 only) is the supervisor's to decide.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "pipeline/common/http_client.h"
#include "tandem/proto/result.h"

namespace tandem::supervisor {

class Prober {
 public:
  virtual ~Prober() = default;
  // The status the stage answered, or why no answer came.
  virtual boost::asio::awaitable<Result<int, common::HttpGetError>> ping(
      std::uint16_t port, std::chrono::milliseconds timeout) = 0;
};

// GET /ping on 127.0.0.1:port, one connection per ping (common::one_shot_get).
std::unique_ptr<Prober> make_http_prober();

}  // namespace tandem::supervisor
