// A count of work in progress that a shutdown waits on, without polling: in-flight
// invocations while the front server drains, live stage processes while the supervisor stops,
// chain calls and worker threads while a transform job ends. Redpanda's `ss::gate` is the
// model: entering after close() is refused, and a waiter wakes when the count reaches zero (or
// its time is up), not on a timer tick.
//
// A gate belongs to one executor and is used only on it (tandem's loops are single-threaded);
// another thread leaves it by posting leave() to the executor.
#pragma once

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace tandem::common {

class Gate {
 public:
  // One entry, left when destroyed (moved-from holders leave nothing).
  class Holder {
   public:
    Holder() = default;
    explicit Holder(Gate& gate) : gate_(&gate) {}
    Holder(Holder&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Holder& operator=(Holder&& other) noexcept {
      if (this != &other) {
        release();
        gate_ = std::exchange(other.gate_, nullptr);
      }
      return *this;
    }
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    ~Holder() { release(); }

    void release() {
      if (gate_) std::exchange(gate_, nullptr)->leave();
    }

   private:
    Gate* gate_ = nullptr;
  };

  explicit Gate(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // One more piece of work, or nullopt once the gate is closed.
  [[nodiscard]] std::optional<Holder> try_enter() {
    if (closed_) return std::nullopt;
    enter();
    return Holder(*this);
  }
  // For work whose end is signalled by a call to leave() (another thread posts it).
  void enter() { ++count_; }
  void leave() {
    if (count_ > 0 && --count_ == 0) wake();
  }

  // No entry after this; the work already in keeps going.
  void close() { closed_ = true; }
  bool closed() const { return closed_; }
  std::size_t count() const { return count_; }

  // Waits until the count is zero or `timeout` has passed; returns the count then (0: all
  // done). Several coroutines may wait at once.
  boost::asio::awaitable<std::size_t> wait(
      std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt) {
    if (count_ == 0) co_return 0;
    boost::asio::steady_timer timer(executor_);
    if (timeout) {
      timer.expires_after(*timeout);
    } else {
      timer.expires_at(boost::asio::steady_timer::time_point::max());
    }
    waiters_.push_back(&timer);
    boost::system::error_code ec;
    co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &timer));
    co_return count_;
  }

  // close(), then wait().
  boost::asio::awaitable<std::size_t> close_and_wait(
      std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt) {
    close();
    co_return co_await wait(timeout);
  }

 private:
  void wake() {
    for (auto* timer : waiters_) timer->cancel();
  }

  boost::asio::any_io_executor executor_;
  std::size_t count_ = 0;
  bool closed_ = false;
  std::vector<boost::asio::steady_timer*> waiters_;
};

}  // namespace tandem::common
