// ShmStageTransport against a stage written from shm_ring.h alone, on a thread of this
// process: the descriptors it inherits are the ones prepare_launch() hands over. Run under
// TSan too (see docs/shm.md): the stage thread and the event loop share the segment.
#include "pipeline/chain/shm_transport.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tandem/proto/shm_segment.h"

namespace tandem::chain {
namespace {

namespace asio = boost::asio;
namespace shm = proto::shm;
using Kind = TransportFailure::Kind;
using namespace std::chrono_literals;

int env_fd(const StageChannel& channel, const char* name) {
  for (const auto& [key, value] : channel.env)
    if (key == name) return std::stoi(value);
  FAIL("no " << name << " in the channel's environment");
  return -1;
}

// What the fake stage does with a request it claimed.
enum class Behaviour { echo, never_answer, die, oversize };

// A stage thread serving the channel: claims submitted slots, answers per `behaviour`.
class FakeStage {
 public:
  FakeStage(StageChannel channel, Behaviour behaviour, bool attach = true) : behaviour_(behaviour) {
    for (auto& fd : channel.fds) {
      const int n = fd.get();
      if (n == env_fd(channel, shm::env_segment_fd)) segment_fd_ = std::move(fd);
      if (n == env_fd(channel, shm::env_submit_fd)) submit_ = std::move(fd);
      if (n == env_fd(channel, shm::env_complete_fd)) complete_ = std::move(fd);
    }
    segment_.emplace(shm::Segment::map(std::move(segment_fd_)));
    if (!attach) return;
    std::atomic_ref<std::uint32_t>(segment_->ring().control().stage_pid).store(getpid());
    thread_ = std::thread([this] { run(); });
  }
  ~FakeStage() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    thread_.join();
  }

  std::vector<shm::Request> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  // The stage's loop of docs/shm.md: claim until a scan finds nothing, say it sleeps, scan
  // once more, then wait on the submit pipe (here in 20 ms naps, to see stop()).
  void run() {
    auto& ring = segment_->ring();
    while (!stopping_) {
      if (serve_submitted() > 0) continue;
      ring.announce_sleep(shm::Ring::Side::stage);
      if (serve_submitted() > 0) {
        ring.retract_sleep(shm::Ring::Side::stage);
        continue;
      }
      pollfd wait{submit_.get(), POLLIN, 0};
      const int ready = ::poll(&wait, 1, 20);
      ring.retract_sleep(shm::Ring::Side::stage);
      char drain[64];
      if (ready > 0 && ::read(submit_.get(), drain, sizeof drain) == 0) return;  // tandem gone
    }
  }

  std::size_t serve_submitted() {
    auto& ring = segment_->ring();
    std::size_t served = 0;
    for (std::uint32_t slot = 0; slot < ring.slot_count(); ++slot) {
      if (!ring.take(slot)) continue;
      ++served;
      auto request = ring.read_request(slot);
      {
        std::lock_guard lock(mutex_);
        received_.push_back(request);
      }
      if (behaviour_ == Behaviour::never_answer) continue;
      if (behaviour_ == Behaviour::die) {
        complete_.reset();  // as the kernel does for a process that is gone
        continue;
      }
      const std::string body = behaviour_ == Behaviour::oversize
                                   ? std::string(ring.response_capacity() + 1, 'x')
                                   : request.body + "|stage";
      ring.complete(slot, shm::ResponseView{.status = 200,
                                            .body = body,
                                            .content_type = "text/csv",
                                            .custom_attributes = "out=1"});
      if (ring.needs_wake(shm::Ring::Side::tandem)) {
        const char byte = 1;
        [[maybe_unused]] auto n = ::write(complete_.get(), &byte, 1);
      }
    }
    return served;
  }

  Behaviour behaviour_;
  shm::UniqueFd segment_fd_, submit_, complete_;
  std::optional<shm::Segment> segment_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<shm::Request> received_;
};

constexpr shm::Geometry geometry{
    .slot_count = 4, .request_capacity = 4096, .response_capacity = 4096};

StageRequest request_of(std::string_view body, std::chrono::milliseconds timeout = 10s) {
  return StageRequest{body,
                      HopHeaders{"text/plain", "application/json", "k=v", "id-7",
                                 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                      std::chrono::steady_clock::now() + timeout};
}

// Runs `calls` concurrently on one event loop until all have returned (the channel's
// collector keeps the loop busy forever) and returns their outcomes in order.
std::vector<StageOutcome> run_calls(asio::io_context& io, ShmStageTransport& transport,
                                    std::vector<StageRequest> calls) {
  std::vector<std::optional<StageOutcome>> outcomes(calls.size());
  std::size_t done = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          outcomes[i].emplace(co_await transport.call(calls[i]));
        },
        [&](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
          if (++done == calls.size()) io.stop();
        });
  }
  io.run();
  io.restart();
  REQUIRE(done == calls.size());
  std::vector<StageOutcome> answered;
  for (auto& outcome : outcomes) answered.push_back(std::move(*outcome));
  return answered;
}

}  // namespace

TEST_CASE("shm: a request and its answer cross with every header", "[shm]") {
  asio::io_context io;
  ShmStageTransport transport(io.get_executor(), {geometry});
  FakeStage stage(transport.prepare_launch(), Behaviour::echo);
  const auto outcomes = run_calls(io, transport, {request_of("abc")});
  REQUIRE(outcomes[0].ok());
  CHECK(outcomes[0]->status == 200);
  CHECK(outcomes[0]->body == "abc|stage");
  CHECK(outcomes[0]->content_type == "text/csv");
  CHECK(outcomes[0]->custom_attributes == "out=1");
  const auto received = stage.received();
  REQUIRE(received.size() == 1);
  CHECK(received[0].content_type == "text/plain");
  CHECK(received[0].accept == "application/json");
  CHECK(received[0].custom_attributes == "k=v");
  CHECK(received[0].inference_id == "id-7");
  CHECK(received[0].traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
}

TEST_CASE("shm: more concurrent calls than slots all get their own answers", "[shm]") {
  asio::io_context io;
  ShmStageTransport transport(io.get_executor(), {geometry});
  FakeStage stage(transport.prepare_launch(), Behaviour::echo);
  std::vector<std::string> bodies;
  for (int i = 0; i < 20; ++i) bodies.push_back("request-" + std::to_string(i));
  std::vector<StageRequest> calls;
  for (const auto& body : bodies) calls.push_back(request_of(body));
  for (int round = 0; round < 5; ++round) {  // slots wrap around many times
    const auto outcomes = run_calls(io, transport, calls);
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      REQUIRE(outcomes[i].ok());
      CHECK(outcomes[i]->body == bodies[i] + "|stage");
    }
  }
  CHECK(stage.received().size() == 100);
}

TEST_CASE("shm: a stage that dies fails exactly the calls in flight", "[shm]") {
  asio::io_context io;
  ShmStageTransport transport(io.get_executor(), {geometry});
  FakeStage stage(transport.prepare_launch(), Behaviour::die);
  const auto outcomes = run_calls(io, transport, {request_of("a"), request_of("b")});
  for (const auto& outcome : outcomes) {
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error().kind == Kind::closed);
    CHECK(outcome.error().message ==
          "the stage exited before answering (its shared-memory channel closed)");
  }
  // Later calls on the dead channel fail at once; after a relaunch they are served.
  auto later = run_calls(io, transport, {request_of("c")});
  CHECK(later[0].error().kind == Kind::connect);
  CHECK(later[0].error().message ==
        "the stage exited before answering (its shared-memory channel closed); this request "
        "was not sent to it");
  stage.stop();
  FakeStage restarted(transport.prepare_launch(), Behaviour::echo);
  later = run_calls(io, transport, {request_of("d")});
  REQUIRE(later[0].ok());
  CHECK(later[0]->body == "d|stage");
}

TEST_CASE("shm: a stage that never answers times out, and its slot stays held", "[shm]") {
  asio::io_context io;
  ShmStageTransport transport(io.get_executor(), {geometry});
  FakeStage stage(transport.prepare_launch(), Behaviour::never_answer);
  std::vector<StageRequest> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(request_of("x", 20ms));
  auto outcomes = run_calls(io, transport, calls);
  for (const auto& outcome : outcomes) {
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error().kind == Kind::timeout);
    CHECK(outcome.error().message == "timed out waiting for the response");
  }
  // Every slot holds a request the stage may still write into: none is reused.
  outcomes = run_calls(io, transport, {request_of("y", 20ms)});
  CHECK(outcomes[0].error().kind == Kind::timeout);
  CHECK(outcomes[0].error().message ==
        "timed out waiting for a free shared-memory slot (every slot holds a request the stage "
        "has not answered)");
  CHECK(stage.received().size() == 4);
}

TEST_CASE("shm: payloads that do not fit are refused", "[shm]") {
  asio::io_context io;
  ShmStageTransport transport(io.get_executor(), {geometry});
  SECTION("a request over the slot") {
    FakeStage stage(transport.prepare_launch(), Behaviour::echo);
    const std::string body(geometry.request_capacity + 1, 'r');
    const auto outcomes = run_calls(io, transport, {request_of(body)});
    CHECK(outcomes[0].error().kind == Kind::request_too_large);
    CHECK(outcomes[0].error().message ==
          "the request body of 4097 bytes is over the shared-memory slot's request area of 4096 "
          "bytes");
    CHECK(stage.received().empty());
  }
  SECTION("a response over the slot") {
    FakeStage stage(transport.prepare_launch(), Behaviour::oversize);
    const auto outcomes = run_calls(io, transport, {request_of("small")});
    CHECK(outcomes[0].error().kind == Kind::too_large);
    CHECK(outcomes[0].error().message == "response body of 4097 bytes over the shared-memory slot");
  }
}

TEST_CASE("shm: a stage that never attached is reported at once", "[shm]") {
  asio::io_context io;
  ShmStageTransport transport(io.get_executor(), {geometry});
  FakeStage stage(transport.prepare_launch(), Behaviour::echo, /*attach=*/false);
  const auto outcomes = run_calls(io, transport, {request_of("a")});
  CHECK(outcomes[0].error().kind == Kind::connect);
  CHECK(outcomes[0].error().message ==
        "the stage has not attached to its shared-memory segment (transport: shm needs a stage "
        "built on the stage SDK, or one that implements docs/shm.md)");
}

TEST_CASE("shm: each launch gets its own segment and descriptors", "[shm]") {
  asio::io_context io;
  ShmStageTransport transport(io.get_executor(), {geometry});
  const auto first = transport.prepare_launch();
  const auto second = transport.prepare_launch();
  REQUIRE(first.fds.size() == 3);
  REQUIRE(second.fds.size() == 3);
  for (const auto& fd : second.fds) {
    CHECK(fd.get() > 2);
    for (const auto& old : first.fds) CHECK(fd.get() != old.get());
  }
  CHECK(env_fd(second, shm::env_segment_fd) != env_fd(first, shm::env_segment_fd));
}

}  // namespace tandem::chain
