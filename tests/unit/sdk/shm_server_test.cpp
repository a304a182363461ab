// The SDK serving a shared-memory channel beside HTTP, with tandem's side played by the
// ring directly: the same handler answers both, and a stopped server stops claiming slots.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "tandem/proto/shm_segment.h"
#include "test_client.h"

using namespace tandem::stage;
using namespace tandem::stage::testing;
namespace shm = tandem::proto::shm;

namespace {

constexpr std::string_view traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// tandem's end of a channel, and the three descriptors the stage is given.
struct Channel {
  Channel()
      : segment(shm::Segment::create(
            {.slot_count = 2, .request_capacity = 1024, .response_capacity = 1024})) {
    int submit_fds[2];
    REQUIRE(pipe2(submit_fds, O_CLOEXEC) == 0);
    submit = shm::UniqueFd(submit_fds[1]);
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    completions = shm::UniqueFd(fds[0]);
    // The server takes these over, as a stage takes over what it inherits.
    stage = ShmChannel{dup(segment.fd()), submit_fds[0], fds[1]};
  }

  void submit_request(std::uint32_t slot, std::uint64_t sequence, std::string_view body) {
    REQUIRE_FALSE(segment.ring().submit(slot, sequence,
                                        shm::RequestView{.body = body,
                                                         .content_type = "text/csv",
                                                         .custom_attributes = "trace=1",
                                                         .inference_id = "id-9",
                                                         .traceparent = traceparent}));
    if (segment.ring().needs_wake(shm::Ring::Side::stage)) {
      const char wake = 1;
      REQUIRE(::write(submit.get(), &wake, 1) == 1);
    }
  }

  // Waits (bounded) for the stage to complete `slot`.
  shm::Completion await(std::uint32_t slot, std::uint64_t sequence) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    auto& ring = segment.ring();
    while (std::chrono::steady_clock::now() < until) {
      if (auto done = ring.collect(slot, sequence)) return *done;
      // tandem's half of the handshake: say it sleeps, look again, then wait for a byte.
      ring.announce_sleep(shm::Ring::Side::tandem);
      if (auto done = ring.collect(slot, sequence)) {
        ring.retract_sleep(shm::Ring::Side::tandem);
        return *done;
      }
      pollfd p{completions.get(), POLLIN, 0};
      ::poll(&p, 1, 100);
      ring.retract_sleep(shm::Ring::Side::tandem);
      char drain[64];
      while (::read(completions.get(), drain, sizeof drain) > 0) {
      }
    }
    FAIL("the stage did not complete slot " << slot);
    return {};
  }

  shm::Segment segment;
  shm::UniqueFd submit, completions;
  ShmChannel stage;
};

Response handler(const Request& request) {
  if (request.body == "refuse") throw HttpError(422, "cannot use this");
  return Response{.body = request.body + "|" + request.content_type + "|" + request.inference_id +
                          (request.traceparent.empty() ? "" : "|" + request.traceparent),
                  .content_type = "text/plain",
                  .custom_attributes = request.custom_attributes + "|seen"};
}

}  // namespace

TEST_CASE("the same handler answers over shared memory and over HTTP", "[shm]") {
  Channel channel;
  Options options = test_options();
  options.shm = channel.stage;
  RunningServer running(handler, options);

  channel.submit_request(0, 1, "a,b");
  channel.submit_request(1, 2, "refuse");
  auto first = channel.await(0, 1);
  REQUIRE(first.kind == shm::Completion::Kind::response);
  CHECK(first.response.status == 200);
  CHECK(first.response.body == "a,b|text/csv|id-9|" + std::string(traceparent));
  CHECK(first.response.content_type == "text/plain");
  CHECK(first.response.custom_attributes == "trace=1|seen");
  auto refused = channel.await(1, 2);
  REQUIRE(refused.kind == shm::Completion::Kind::response);
  CHECK(refused.response.status == 422);
  CHECK(refused.response.body == "cannot use this");
  CHECK(channel.segment.ring().control().stage_pid == static_cast<std::uint32_t>(getpid()));

  // Slots are reused: the same slot again.
  channel.submit_request(0, 3, "again");
  CHECK(channel.await(0, 3).response.body == "again|text/csv|id-9|" + std::string(traceparent));

  TestClient client(running.port());
  auto request = make_request(http::verb::post, "/invocations", "x");
  request.set(http::field::content_type, "text/csv");
  request.set("X-Amzn-SageMaker-Inference-Id", "id-9");
  request.set("traceparent", traceparent);
  CHECK(client.send(std::move(request)).body() == "x|text/csv|id-9|" + std::string(traceparent));
}

TEST_CASE("a stage given a descriptor that is not a segment refuses to start", "[shm]") {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  shm::UniqueFd other(fds[0]);
  Options options = test_options();
  const int empty = memfd_create("not-a-segment", MFD_CLOEXEC);
  options.shm = ShmChannel{empty, dup(fds[1]), fds[1]};
  CHECK_THROWS_WITH(Server(handler, options),
                    Catch::Contains("is not a tandem shared-memory segment (0 bytes)"));
}

TEST_CASE("a slot being served names the process that took it, until it is answered", "[shm]") {
  Channel channel;
  std::promise<void> release;
  auto released = release.get_future().share();
  Options options = test_options();
  options.shm = channel.stage;
  RunningServer running(
      [released](const Request& request) {
        released.wait();
        return Response{.body = request.body};
      },
      options);

  channel.submit_request(0, 1, "held");
  auto& ring = channel.segment.ring();
  const auto until = std::chrono::steady_clock::now() + deadline;
  // The claimant is stored just after the claim.
  while ((ring.state(0) != shm::SlotState::taken || ring.claimant(0) == 0) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  REQUIRE(ring.state(0) == shm::SlotState::taken);
  CHECK(ring.claimant(0) == static_cast<std::uint32_t>(getpid()));
  release.set_value();
  CHECK(channel.await(0, 1).response.body == "held");
  CHECK(ring.claimant(0) == 0);
}
