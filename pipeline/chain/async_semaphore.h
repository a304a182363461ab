// A counting semaphore for coroutines on one event loop (no locking: single-threaded use):
// bounds the requests in flight to a stage. A waiter gives up at its deadline, so a request
// never stays blocked behind a stuck stage longer than its own timeout.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>

namespace tandem::chain {

class AsyncSemaphore {
 public:
  AsyncSemaphore(boost::asio::any_io_executor executor, std::size_t count)
      : executor_(std::move(executor)), available_(count) {}

  // True when a unit was acquired before `deadline`; the caller must then release() it.
  boost::asio::awaitable<bool> acquire(std::chrono::steady_clock::time_point deadline) {
    if (available_ > 0 && waiters_.empty()) {
      --available_;
      co_return true;
    }
    auto waiter = std::make_shared<Waiter>(executor_, deadline);
    const auto it = waiters_.insert(waiters_.end(), waiter);
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (waiter->granted) co_return true;
    waiters_.erase(it);
    co_return false;
  }

  void release() {
    if (waiters_.empty()) {
      ++available_;
      return;
    }
    auto waiter = waiters_.front();
    waiters_.pop_front();
    waiter->granted = true;  // hand the unit over directly: no barging
    waiter->timer.cancel();
  }

  // Releases one unit when destroyed, also when the holder is unwound by an exception.
  class Lease {
   public:
    explicit Lease(AsyncSemaphore& s) : semaphore_(&s) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { semaphore_->release(); }

   private:
    AsyncSemaphore* semaphore_;
  };

  std::size_t available() const { return available_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    Waiter(boost::asio::any_io_executor ex, std::chrono::steady_clock::time_point deadline)
        : timer(ex, deadline) {}
    boost::asio::steady_timer timer;
    bool granted = false;
  };
  boost::asio::any_io_executor executor_;
  std::size_t available_;
  std::list<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace tandem::chain
