#include "pipeline/common/gate.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <thread>

namespace asio = boost::asio;
using tandem::common::Gate;
using namespace std::chrono_literals;

namespace {

// Runs `body` on a fresh loop to its end.
template <typename Body>
void run(Body body) {
  asio::io_context io(1);
  asio::co_spawn(io, body(io), asio::detached);
  io.run();
}

}  // namespace

TEST_CASE("a gate with nothing in it is passed at once") {
  std::optional<std::size_t> left;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    Gate gate(io.get_executor());
    gate.close();
    left = co_await gate.wait();
  });
  CHECK(left == 0u);
}

TEST_CASE("a waiter wakes when the last holder leaves, long before its timeout") {
  std::optional<std::size_t> left;
  std::chrono::steady_clock::duration waited{};
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    Gate gate(io.get_executor());
    auto first = gate.try_enter();
    auto second = gate.try_enter();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(gate.count() == 2);
    asio::steady_timer later(io, 20ms);
    later.async_wait([&](boost::system::error_code) {
      first.reset();
      asio::post(io, [&] { second.reset(); });
    });
    const auto start = std::chrono::steady_clock::now();
    gate.close();
    left = co_await gate.wait(60s);
    waited = std::chrono::steady_clock::now() - start;
  });
  CHECK(left == 0u);
  CHECK(waited < 30s);  // woken by the count, not by the 60 s timeout
}

TEST_CASE("a waiter's timeout returns the count still in") {
  std::optional<std::size_t> left;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    Gate gate(io.get_executor());
    gate.enter();
    gate.close();
    left = co_await gate.wait(10ms);
    gate.leave();
    CHECK(gate.count() == 0);
  });
  CHECK(left == 1u);
}

TEST_CASE("a closed gate refuses new work and keeps counting what is in") {
  asio::io_context io(1);
  Gate gate(io.get_executor());
  auto held = gate.try_enter();
  gate.close();
  CHECK(gate.closed());
  CHECK_FALSE(gate.try_enter());
  CHECK(gate.count() == 1);
  held.reset();
  CHECK(gate.count() == 0);
}

TEST_CASE("a holder moved from leaves nothing, and release leaves once") {
  asio::io_context io(1);
  Gate gate(io.get_executor());
  auto held = gate.try_enter();
  REQUIRE(held);
  Gate::Holder moved = std::move(*held);
  held.reset();
  CHECK(gate.count() == 1);
  moved.release();
  moved.release();
  CHECK(gate.count() == 0);
}

TEST_CASE("every waiter wakes, and leaving from another thread goes through the loop") {
  asio::io_context io(1);
  Gate gate(io.get_executor());  // outlives every waiter
  int woken = 0;
  gate.enter();
  auto waiter = [&]() -> asio::awaitable<void> {
    if (co_await gate.wait() == 0) ++woken;
  };
  for (int i = 0; i < 3; ++i) asio::co_spawn(io, waiter(), asio::detached);
  std::thread worker([&] { asio::post(io, [&] { gate.leave(); }); });
  io.run();
  worker.join();
  CHECK(woken == 3);
}

TEST_CASE("a holder that outlives its gate leaves nothing behind") {
  asio::io_context io(1);
  std::optional<Gate::Holder> late;
  {
    Gate gate(io.get_executor());
    auto held = gate.try_enter();
    REQUIRE(held);
    late = std::move(*held);
  }
  late.reset();  // under AddressSanitizer, a use of the gate's memory would fail here
  SUCCEED("the holder left after its gate was gone");
}

TEST_CASE("a waiter woken at zero answers zero even if work entered again before it resumed") {
  std::optional<std::size_t> left;
  run([&](asio::io_context& io) -> asio::awaitable<void> {
    Gate gate(io.get_executor());
    gate.enter();
    asio::post(io, [&] {
      gate.leave();  // zero: the waiter is woken...
      gate.enter();  // ...and new work enters the open gate before it runs
    });
    left = co_await gate.wait(60s);
    gate.leave();
  });
  CHECK(left == 0u);
}
