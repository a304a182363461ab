#include "tandem/proto/shm_ring.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <string>

#include "tandem/proto/shm_segment.h"

using namespace tandem::proto::shm;

namespace {

// Zeroed, page-aligned memory standing in for a mapped segment.
struct Memory {
  explicit Memory(std::size_t size)
      : bytes(static_cast<char*>(std::aligned_alloc(page, size))), size(size) {
    std::fill(bytes, bytes + size, 0);
  }
  ~Memory() { std::free(bytes); }
  char* bytes;
  std::size_t size;
};

constexpr Geometry small{.slot_count = 3, .request_capacity = 100, .response_capacity = 50};

RequestView request_of(std::string_view body) {
  return RequestView{.body = body,
                     .content_type = "text/csv; charset=utf-8",
                     .accept = std::nullopt,
                     .custom_attributes = "k=v",
                     .inference_id = "id-1"};
}

// The stage's side of one round: take, read, answer with the body reversed.
Request serve_one(Ring& stage, std::uint32_t slot) {
  REQUIRE(stage.take(slot));
  auto request = stage.read_request(slot);
  std::string reversed(request.body.rbegin(), request.body.rend());
  stage.complete(slot, ResponseView{.status = 201,
                                    .body = reversed,
                                    .content_type = "application/json",
                                    .custom_attributes = std::nullopt});
  return request;
}

}  // namespace

TEST_CASE("the layout puts page-aligned areas after the control block", "[shm]") {
  const auto layout = layout_of(small);
  CHECK(layout.request_offset == 8192);
  CHECK(layout.response_offset == 8192 + 4096);
  CHECK(layout.slot_stride == 8192 + 4096 + 4096);
  CHECK(layout.segment_size == control_size + 3 * layout.slot_stride);
}

TEST_CASE("a request and its response cross the ring with every field", "[shm]") {
  Memory memory(layout_of(small).segment_size);
  auto tandem = Ring::initialize(memory.bytes, memory.size, small);
  auto stage = Ring::attach(memory.bytes, memory.size);
  CHECK(stage.slot_count() == 3);
  CHECK(stage.request_capacity() == 100);
  CHECK(stage.response_capacity() == 50);

  CHECK_FALSE(tandem.submit(1, 7, request_of("abc")));
  CHECK(tandem.state(1) == SlotState::submitted);
  CHECK_FALSE(tandem.collect(1, 7));  // not answered yet
  const auto request = serve_one(stage, 1);
  CHECK(request.sequence == 7);
  CHECK(request.body == "abc");
  CHECK(request.content_type == "text/csv; charset=utf-8");
  CHECK_FALSE(request.accept);
  CHECK(request.custom_attributes == "k=v");
  CHECK(request.inference_id == "id-1");

  const auto done = tandem.collect(1, 7);
  REQUIRE(done);
  REQUIRE(done->kind == Completion::Kind::response);
  CHECK(done->response.status == 201);
  CHECK(done->response.body == "cba");
  CHECK(done->response.content_type == "application/json");
  CHECK_FALSE(done->response.custom_attributes);
  CHECK(tandem.state(1) == SlotState::free);
}

TEST_CASE("slots are reused round after round (wrap-around)", "[shm]") {
  Memory memory(layout_of(small).segment_size);
  auto tandem = Ring::initialize(memory.bytes, memory.size, small);
  auto stage = Ring::attach(memory.bytes, memory.size);
  std::uint64_t sequence = 0;
  // Bodies of changing length, so a shorter one after a longer one shows no stale bytes.
  for (int round = 0; round < 50; ++round) {
    for (std::uint32_t slot = 0; slot < 3; ++slot) {
      const std::string body(static_cast<std::size_t>((round * 7 + slot * 13) % 50), 'a' + slot);
      REQUIRE_FALSE(tandem.submit(slot, ++sequence, request_of(body)));
    }
    for (std::uint32_t slot = 0; slot < 3; ++slot) serve_one(stage, slot);
    for (std::uint32_t slot = 0; slot < 3; ++slot) {
      const auto done = tandem.collect(slot, sequence - 2 + slot);
      REQUIRE(done);
      REQUIRE(done->kind == Completion::Kind::response);
      CHECK(done->response.body ==
            std::string(static_cast<std::size_t>((round * 7 + slot * 13) % 50), 'a' + slot));
    }
  }
  CHECK(sequence == 150);
}

TEST_CASE("with every slot busy, none is free and the stage takes each once", "[shm]") {
  Memory memory(layout_of(small).segment_size);
  auto tandem = Ring::initialize(memory.bytes, memory.size, small);
  auto stage = Ring::attach(memory.bytes, memory.size);
  for (std::uint32_t slot = 0; slot < 3; ++slot)
    REQUIRE_FALSE(tandem.submit(slot, slot + 1, request_of("x")));
  for (std::uint32_t slot = 0; slot < 3; ++slot) {
    CHECK(tandem.state(slot) == SlotState::submitted);
    CHECK(stage.take(slot));
    CHECK_FALSE(stage.take(slot));  // already taken: a second claim fails
    CHECK(tandem.state(slot) == SlotState::taken);
    CHECK_FALSE(tandem.collect(slot, slot + 1));
  }
}

TEST_CASE("payloads larger than a slot are refused, never truncated", "[shm]") {
  Memory memory(layout_of(small).segment_size);
  auto tandem = Ring::initialize(memory.bytes, memory.size, small);
  auto stage = Ring::attach(memory.bytes, memory.size);

  SECTION("a request body over the request area") {
    const std::string body(101, 'x');
    CHECK(tandem.submit(0, 1, request_of(body)) ==
          "the request body of 101 bytes is over the shared-memory slot's request area of 100 "
          "bytes");
    CHECK(tandem.state(0) == SlotState::free);
  }
  SECTION("a header over its field") {
    const std::string accept(text_capacity + 1, 'a');
    auto request = request_of("x");
    request.accept = accept;
    CHECK(tandem.submit(0, 1, request) ==
          "the Accept header of 1025 bytes is over the shared-memory slot's 1024-byte field");
    const std::string id(id_capacity + 1, 'i');
    request = request_of("x");
    request.inference_id = id;
    CHECK(tandem.submit(0, 1, request) ==
          "the inference id of 257 bytes is over the shared-memory slot's 256-byte field");
    CHECK(tandem.state(0) == SlotState::free);
  }
  SECTION("a response body over the response area") {
    REQUIRE_FALSE(tandem.submit(2, 9, request_of("x")));
    REQUIRE(stage.take(2));
    const std::string big(51, 'y');
    stage.complete(2, ResponseView{.status = 200, .body = big});
    const auto done = tandem.collect(2, 9);
    REQUIRE(done);
    CHECK(done->kind == Completion::Kind::too_large);
    CHECK(done->response_size == 51);
  }
  SECTION("a response header over its field becomes a 500 saying so") {
    REQUIRE_FALSE(tandem.submit(0, 3, request_of("x")));
    REQUIRE(stage.take(0));
    const std::string type(text_capacity + 5, 't');
    stage.complete(0, ResponseView{.status = 200, .body = "ok", .content_type = type});
    const auto done = tandem.collect(0, 3);
    REQUIRE(done);
    REQUIRE(done->kind == Completion::Kind::response);
    CHECK(done->response.status == 500);
    CHECK(done->response.content_type == "text/plain");
  }
}

TEST_CASE("a broken answer is reported, not trusted", "[shm]") {
  Memory memory(layout_of(small).segment_size);
  auto tandem = Ring::initialize(memory.bytes, memory.size, small);
  auto stage = Ring::attach(memory.bytes, memory.size);
  REQUIRE_FALSE(tandem.submit(0, 4, request_of("x")));
  REQUIRE(stage.take(0));
  stage.complete(0, ResponseView{.status = 200, .body = "ok"});

  SECTION("a length beyond the response area") {
    stage.header(0).response_length = 1'000'000;
    const auto done = tandem.collect(0, 4);
    REQUIRE(done);
    CHECK(done->kind == Completion::Kind::malformed);
    CHECK(done->error == "the stage wrote a response length of 1000000 bytes into a 50-byte area");
  }
  SECTION("an answer to another request") {
    const auto done = tandem.collect(0, 5);
    REQUIRE(done);
    CHECK(done->kind == Completion::Kind::malformed);
    CHECK(done->error == "the stage answered request 4 in a slot holding request 5");
  }
  CHECK(tandem.state(0) == SlotState::free);
}

TEST_CASE("each side says it sleeps in a word of its own, read by the other", "[shm]") {
  Memory memory(layout_of(small).segment_size);
  Ring tandem = Ring::initialize(memory.bytes, memory.size, small);
  Ring stage = Ring::attach(memory.bytes, memory.size);
  const auto& control = *reinterpret_cast<const ControlBlock*>(memory.bytes);
  // A fresh segment: nobody sleeps yet, so tandem's first request writes no wake-up; the
  // stage looks at the slots before it first sleeps.
  CHECK_FALSE(tandem.needs_wake(Ring::Side::stage));
  CHECK_FALSE(stage.needs_wake(Ring::Side::tandem));

  stage.announce_sleep(Ring::Side::stage);
  CHECK(control.stage_sleeping == 1);
  CHECK(tandem.needs_wake(Ring::Side::stage));
  CHECK_FALSE(stage.needs_wake(Ring::Side::tandem));

  tandem.announce_sleep(Ring::Side::tandem);
  CHECK(control.tandem_sleeping == 1);
  CHECK(stage.needs_wake(Ring::Side::tandem));

  // A stage's word counts its sleeping threads: it needs waking until the last is awake.
  stage.announce_sleep(Ring::Side::stage);
  CHECK(control.stage_sleeping == 2);
  stage.retract_sleep(Ring::Side::stage);
  CHECK(tandem.needs_wake(Ring::Side::stage));
  stage.retract_sleep(Ring::Side::stage);
  CHECK_FALSE(tandem.needs_wake(Ring::Side::stage));
  CHECK(stage.needs_wake(Ring::Side::tandem));
  tandem.retract_sleep(Ring::Side::tandem);
  CHECK_FALSE(stage.needs_wake(Ring::Side::tandem));
}

TEST_CASE("attach checks magic, version and geometry", "[shm]") {
  Memory memory(layout_of(small).segment_size);
  Ring::initialize(memory.bytes, memory.size, small);
  auto& control = *reinterpret_cast<ControlBlock*>(memory.bytes);

  SECTION("another layout version") {
    control.version = 1;
    CHECK_THROWS_WITH(Ring::attach(memory.bytes, memory.size),
                      "shared-memory segment has layout version 1; this side speaks version 2");
  }
  SECTION("not a segment at all") {
    control.magic = 0;
    CHECK_THROWS_WITH(Ring::attach(memory.bytes, memory.size),
                      "not a tandem shared-memory segment (bad magic)");
  }
  SECTION("a geometry that does not fit the mapping") {
    control.slot_count = 4;
    CHECK_THROWS_WITH(Ring::attach(memory.bytes, memory.size),
                      "shared-memory segment's control block is inconsistent");
  }
}

TEST_CASE("a memfd segment maps in a second place with the same contents", "[shm]") {
  auto segment = Segment::create(small);
  CHECK(segment.fd() > 2);
  CHECK(segment.size() == layout_of(small).segment_size);
  REQUIRE_FALSE(segment.ring().submit(0, 1, request_of("shared")));
  auto other = Segment::map(UniqueFd(dup(segment.fd())));
  CHECK(other.ring().take(0));
  CHECK(other.ring().read_request(0).body == "shared");
  CHECK(segment.ring().state(0) == SlotState::taken);
}
