// One-shot HTTP requests to a stage on loopback (health pings, /execution-parameters),
// each on its own connection with a hard deadline. The invocation path uses the pooled
// transport in pipeline/chain instead.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>

#include "tandem/proto/result.h"

namespace tandem::common {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// Why no response arrived.
struct HttpGetError {
  std::string message;  // "connect: Connection refused", "timed out", "read: ..."
  // tandem itself could not make the request (out of descriptors): it says nothing of the peer.
  bool local_failure = false;
};

boost::asio::awaitable<Result<HttpResponse, HttpGetError>> one_shot_get(
    boost::asio::ip::tcp::endpoint endpoint, std::string target, std::chrono::milliseconds timeout,
    std::size_t body_limit = 64 * 1024);

}  // namespace tandem::common
