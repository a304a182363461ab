// The per-stage in-flight bound: FIFO handoff, no barging, waiters that give up at their
// deadline without leaking a unit.
#include "pipeline/chain/async_semaphore.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tandem::chain {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// One coroutine calling acquire(); `log` records the order in which acquirers finish.
struct Acquirer {
  std::string name;
  std::optional<bool> acquired;  // set when acquire() returned
};

void start(asio::io_context& io, AsyncSemaphore& sem, Acquirer& a, Clock::time_point deadline,
           std::vector<std::string>& log) {
  asio::co_spawn(io, sem.acquire(deadline), [&a, &log](std::exception_ptr e, bool ok) {
    if (e) std::rethrow_exception(e);
    a.acquired = ok;
    log.push_back(a.name + (ok ? " acquired" : " timed out"));
  });
}

// Runs every handler that is ready now, never blocking on a timer. (An io_context that ran
// out of work stops; restart() lets it run the next test step.)
void settle(asio::io_context& io) {
  io.restart();
  while (io.poll_one() > 0) {
  }
}

const auto far = [] { return Clock::now() + 1h; };

TEST_CASE("units are handed out without waiting while available", "[semaphore]") {
  asio::io_context io;
  AsyncSemaphore sem(io.get_executor(), 2);
  std::vector<std::string> log;
  Acquirer a{"a"}, b{"b"}, c{"c"};
  start(io, sem, a, far(), log);
  start(io, sem, b, far(), log);
  start(io, sem, c, far(), log);
  settle(io);
  CHECK(log == std::vector<std::string>{"a acquired", "b acquired"});
  CHECK(sem.available() == 0);
  CHECK(sem.waiting() == 1);
  CHECK_FALSE(c.acquired.has_value());

  sem.release();
  settle(io);
  CHECK(c.acquired == std::optional<bool>(true));
  CHECK(sem.available() == 0);  // handed over, not returned to the pool
  CHECK(sem.waiting() == 0);

  sem.release();  // b
  sem.release();  // c
  CHECK(sem.available() == 2);
}

TEST_CASE("waiters are served first in, first out", "[semaphore]") {
  asio::io_context io;
  AsyncSemaphore sem(io.get_executor(), 1);
  std::vector<std::string> log;
  Acquirer a{"a"}, b{"b"}, c{"c"}, d{"d"};
  start(io, sem, a, far(), log);
  settle(io);
  for (Acquirer* w : {&b, &c, &d}) {
    start(io, sem, *w, far(), log);
    settle(io);
  }
  CHECK(sem.waiting() == 3);
  for (int i = 0; i < 3; ++i) {
    sem.release();
    settle(io);
  }
  CHECK(log == std::vector<std::string>{"a acquired", "b acquired", "c acquired", "d acquired"});
  CHECK(sem.waiting() == 0);
  CHECK(sem.available() == 0);
  sem.release();
  CHECK(sem.available() == 1);
}

TEST_CASE("a released unit goes to the waiter, not to a newcomer", "[semaphore]") {
  asio::io_context io;
  AsyncSemaphore sem(io.get_executor(), 1);
  std::vector<std::string> log;
  Acquirer a{"a"}, b{"b"}, late{"late"};
  start(io, sem, a, far(), log);
  settle(io);
  start(io, sem, b, far(), log);
  settle(io);
  sem.release();                     // b is granted but has not resumed yet
  start(io, sem, late, far(), log);  // arrives before b runs
  settle(io);
  CHECK(log == std::vector<std::string>{"a acquired", "b acquired"});
  CHECK(sem.waiting() == 1);
  CHECK_FALSE(late.acquired.has_value());
  sem.release();
  settle(io);
  CHECK(late.acquired == std::optional<bool>(true));
}

TEST_CASE("a waiter gives up at its deadline and leaves no trace", "[semaphore]") {
  asio::io_context io;
  AsyncSemaphore sem(io.get_executor(), 1);
  std::vector<std::string> log;
  Acquirer holder{"holder"}, impatient{"impatient"};
  start(io, sem, holder, far(), log);
  settle(io);

  const auto begin = Clock::now();
  start(io, sem, impatient, begin + 20ms, log);
  io.restart();
  io.run_for(5s);  // returns once the timer fired: the holder holds no timer
  const auto waited = Clock::now() - begin;
  CHECK(impatient.acquired == std::optional<bool>(false));
  CHECK(waited >= 20ms);
  CHECK(sem.waiting() == 0);

  // The holder's release must not be handed to the waiter that left.
  sem.release();
  CHECK(sem.available() == 1);
  Acquirer next{"next"};
  start(io, sem, next, Clock::now(), log);
  settle(io);
  CHECK(next.acquired == std::optional<bool>(true));
  CHECK(log == std::vector<std::string>{"holder acquired", "impatient timed out", "next acquired"});
}

TEST_CASE("a deadline already past fails at once when no unit is free", "[semaphore]") {
  asio::io_context io;
  AsyncSemaphore sem(io.get_executor(), 0);
  std::vector<std::string> log;
  Acquirer a{"a"};
  start(io, sem, a, Clock::now() - 1s, log);
  io.run_for(5s);
  CHECK(a.acquired == std::optional<bool>(false));
  CHECK(sem.waiting() == 0);
  sem.release();
  CHECK(sem.available() == 1);
}

TEST_CASE("a timed-out waiter in the middle of the queue keeps the others' order", "[semaphore]") {
  asio::io_context io;
  AsyncSemaphore sem(io.get_executor(), 1);
  std::vector<std::string> log;
  Acquirer a{"a"}, b{"b"}, quitter{"quitter"}, c{"c"};
  start(io, sem, a, far(), log);
  settle(io);
  start(io, sem, b, far(), log);
  settle(io);
  start(io, sem, quitter, Clock::now() - 1ms, log);
  settle(io);
  start(io, sem, c, far(), log);
  settle(io);
  // The quitter's expired timer completes once the reactor has run.
  for (int i = 0; i < 1000 && !quitter.acquired; ++i) {
    io.restart();
    io.run_one_for(10ms);
  }
  CHECK(quitter.acquired == std::optional<bool>(false));
  CHECK(sem.waiting() == 2);
  sem.release();
  settle(io);
  sem.release();
  settle(io);
  CHECK(log ==
        std::vector<std::string>{"a acquired", "quitter timed out", "b acquired", "c acquired"});
  CHECK(sem.available() == 0);
}

TEST_CASE("a unit granted after the deadline but before the waiter resumed is kept",
          "[semaphore]") {
  asio::io_context io;
  AsyncSemaphore sem(io.get_executor(), 1);
  std::vector<std::string> log;
  Acquirer a{"a"}, b{"b"};
  start(io, sem, a, far(), log);
  settle(io);
  start(io, sem, b, Clock::now() - 1ms, log);
  // Stop as soon as b is queued: it is suspended on its (expired) timer.
  io.restart();
  for (int i = 0; i < 100 && sem.waiting() == 0; ++i) io.poll_one();
  REQUIRE(sem.waiting() == 1);
  sem.release();
  settle(io);
  CHECK(b.acquired == std::optional<bool>(true));  // b owns the unit and will release it
  CHECK(sem.available() == 0);
  sem.release();
  CHECK(sem.available() == 1);
}

}  // namespace
}  // namespace tandem::chain
