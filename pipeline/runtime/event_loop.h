// The main loop of a command that runs one job on a single-threaded Asio event loop
// (`tandem transform`, `tandem replay`): SIGPIPE ignored, SIGINT and SIGTERM handed to the
// job for as long as it runs, an exception out of the job logged as an internal error.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>

namespace tandem::runtime {

inline constexpr int kExitInternalError = 70;  // EX_SOFTWARE

// Runs `job` on `io` until it ends; returns `exit_code()` then, or kExitInternalError when the
// job threw.
int run_until_done(boost::asio::io_context& io, boost::asio::awaitable<void> job,
                   const std::function<void(int signal_number)>& on_signal,
                   const std::function<int()>& exit_code);

}  // namespace tandem::runtime
