// A count of work in progress that a shutdown waits on, without polling: in-flight
// invocations while the front server drains, live stage processes while the supervisor stops,
// chain calls and worker threads while a transform job ends. Redpanda's `ss::gate` is the
// model: entering after close() is refused, and a waiter wakes when the count reaches zero (or
// its time is up), not on a timer tick.
//
// A gate belongs to one executor and is used only on it (tandem's loops are single-threaded);
// another thread leaves it by posting leave() to the executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace tandem::common {

class Gate {
  struct Waiter;
  // Shared with every holder, so that a holder destroyed after its gate (a suspended
  // coroutine frame destroyed with the io_context) leaves nothing dangling.
  struct State {
    std::size_t count = 0;
    bool closed = false;
    bool alive = true;  // the gate still exists
    std::vector<Waiter*> waiters;
  };

 public:
  // One entry, left when destroyed (moved-from holders leave nothing).
  class Holder {
   public:
    Holder() = default;
    explicit Holder(std::shared_ptr<State> state) : state_(std::move(state)) {}
    Holder(Holder&& other) noexcept = default;
    Holder& operator=(Holder&& other) noexcept {
      if (this != &other) {
        release();
        state_ = std::move(other.state_);
      }
      return *this;
    }
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    ~Holder() { release(); }

    void release() {
      if (auto state = std::exchange(state_, nullptr)) leave(*state);
    }

   private:
    std::shared_ptr<State> state_;
  };

  explicit Gate(boost::asio::any_io_executor executor)
      : executor_(std::move(executor)), state_(std::make_shared<State>()) {}
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  ~Gate() {
    state_->alive = false;
    state_->waiters.clear();
  }

  // One more piece of work, or nullopt once the gate is closed.
  [[nodiscard]] std::optional<Holder> try_enter() {
    if (state_->closed) return std::nullopt;
    enter();
    return Holder(state_);
  }
  // For work whose end is signalled by a call to leave() (another thread posts it).
  void enter() { ++state_->count; }
  void leave() { leave(*state_); }

  // No entry after this; the work already in keeps going.
  void close() { state_->closed = true; }
  bool closed() const { return state_->closed; }
  std::size_t count() const { return state_->count; }

  // Waits until the count is zero or `timeout` has passed; returns the count then (0: all
  // done, even if work entered an open gate again before this waiter resumed). Several
  // coroutines may wait at once.
  boost::asio::awaitable<std::size_t> wait(
      std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt) {
    if (state_->count == 0) co_return 0;
    Waiter waiter{boost::asio::steady_timer(executor_), false};
    if (timeout) {
      waiter.timer.expires_after(*timeout);
    } else {
      waiter.timer.expires_at(boost::asio::steady_timer::time_point::max());
    }
    const auto state = state_;  // this gate may be gone when the wait ends
    state->waiters.push_back(&waiter);
    boost::system::error_code ec;
    co_await waiter.timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    std::erase(state->waiters, &waiter);
    co_return waiter.emptied ? 0 : state->count;
  }

 private:
  struct Waiter {
    boost::asio::steady_timer timer;
    bool emptied;  // woken because the count reached zero
  };

  static void leave(State& state) {
    if (state.count == 0 || --state.count != 0 || !state.alive) return;
    for (auto* waiter : state.waiters) {
      waiter->emptied = true;
      waiter->timer.cancel();
    }
  }

  boost::asio::any_io_executor executor_;
  std::shared_ptr<State> state_;
};

}  // namespace tandem::common
