#include "pipeline/runtime/event_loop.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <exception>

#include "pipeline/common/log.h"

namespace tandem::runtime {

namespace asio = boost::asio;

int run_until_done(asio::io_context& io, asio::awaitable<void> job,
                   const std::function<void(int signal_number)>& on_signal,
                   const std::function<int()>& exit_code) {
  ::signal(SIGPIPE, SIG_IGN);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      on_signal(sig);
      wait_signal();
    });
  };
  wait_signal();
  int code = 0;
  asio::co_spawn(io, std::move(job), [&](std::exception_ptr e) {
    code = exit_code();
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("internal error: {}", ex.what());
      }
      code = kExitInternalError;
    }
    signals.cancel();
    io.stop();
  });
  io.run();
  return code;
}

}  // namespace tandem::runtime
