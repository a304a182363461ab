#include "pipeline/supervisor/time_source.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tandem::supervisor {

namespace asio = boost::asio;

namespace {

class SteadyTime final : public TimeSource {
 public:
  explicit SteadyTime(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  Clock::time_point now() const override { return Clock::now(); }

  asio::awaitable<void> sleep(Clock::duration duration) override {
    asio::steady_timer timer(executor_, duration);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<std::size_t> wait(common::Gate& gate, Clock::duration timeout) override {
    co_return co_await gate.wait(timeout);
  }

 private:
  asio::any_io_executor executor_;
};

}  // namespace

std::unique_ptr<TimeSource> make_steady_time(asio::any_io_executor executor) {
  return std::make_unique<SteadyTime>(std::move(executor));
}

}  // namespace tandem::supervisor
