// One accepted HTTP connection of a stage and the coroutine that serves it, request after
// request, until the client closes, a timeout expires, an error occurs or the server stops.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "stages/sdk/stage.h"

namespace tandem::stage {

// Owned jointly by the serving coroutine and the server's registry of open connections.
// Used only on its own strand (the stream's executor), which is what makes `idle` safe to
// read from a handler the server posts there.
struct Connection {
  explicit Connection(boost::asio::ip::tcp::socket socket) : stream(std::move(socket)) {}

  boost::beast::tcp_stream stream;
  // True while waiting for the next request's header: the only time the server may cancel
  // the connection on stop without losing a request it has started to serve.
  bool idle = false;
};

// What every connection shares, owned by the server and outliving all connections.
struct ConnectionContext {
  const Handler& handler;
  const Options& options;
  const std::atomic<bool>& stopping;
};

boost::asio::awaitable<void> serve_connection(Connection& connection,
                                              const ConnectionContext& context);

}  // namespace tandem::stage
