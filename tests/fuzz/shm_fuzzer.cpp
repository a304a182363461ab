// The shared-memory ring's headers as the other process may leave them (docs/shm.md: nothing
// in the segment is trusted). Byte 0 picks what the input overwrites:
//   bit 0 clear: slot 1's header and the start of its request and response areas, then both
//                sides read it (tandem's collect, the stage's read_request);
//   bit 0 set:   the control block, then a stage attaches, and if it accepts the segment,
//                claims and reads every slot the control block claims to have.
// A crash, a read outside the segment (ASan), an exception other than std::runtime_error
// from the stage's side, or an answer outside the slot's capacities is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "tandem/proto/shm_ring.h"

namespace {

namespace shm = tandem::proto::shm;

void check(bool condition) {
  if (!condition) std::abort();
}

constexpr shm::Geometry geometry{
    .slot_count = 2, .request_capacity = 256, .response_capacity = 256};

void check_request(const shm::Request& request) {
  check(request.body.size() <= geometry.request_capacity);
  for (const auto* text : {&request.content_type, &request.accept, &request.custom_attributes})
    check(!*text || (*text)->size() <= shm::text_capacity);
  check(request.inference_id.size() <= shm::id_capacity);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t segment_size = shm::layout_of(geometry).segment_size;
  // Exactly the segment: ASan reports any read past its end.
  const auto memory = std::make_unique<std::uint8_t[]>(segment_size);
  std::memset(memory.get(), 0, segment_size);
  shm::Ring tandem = shm::Ring::initialize(memory.get(), segment_size, geometry);
  const std::uint8_t mode = data[0];
  ++data;
  --size;

  if ((mode & 1) == 0) {
    // tandem submitted request 7 in slot 1; the stage then wrote whatever the input says.
    check(!tandem.submit(1, 7, shm::RequestView{.body = "abc", .inference_id = "id"}));
    auto* slot = reinterpret_cast<std::uint8_t*>(&tandem.header(1));
    std::memcpy(slot, data, std::min(size, sizeof(shm::SlotHeader)));
    const auto layout = shm::layout_of(geometry);
    if (size > sizeof(shm::SlotHeader)) {
      const std::size_t rest = std::min<std::size_t>(size - sizeof(shm::SlotHeader), 256);
      std::memcpy(slot + layout.request_offset, data + sizeof(shm::SlotHeader), rest);
      std::memcpy(slot + layout.response_offset, data + sizeof(shm::SlotHeader), rest);
    }
    try {
      check_request(tandem.read_request(1));  // the stage's reading of it
    } catch (const std::runtime_error&) {
    }
    tandem.header(1).state = static_cast<std::uint32_t>(shm::SlotState::completed);
    const auto done = tandem.collect(1, 7);
    check(done.has_value() && tandem.state(1) == shm::SlotState::free);
    switch (done->kind) {
      case shm::Completion::Kind::response:
        check(done->response.status >= 100 && done->response.status <= 999);
        check(done->response.body.size() <= geometry.response_capacity);
        for (const auto* text : {&done->response.content_type, &done->response.custom_attributes})
          check(!*text || (*text)->size() <= shm::text_capacity);
        break;
      case shm::Completion::Kind::too_large:
        break;
      case shm::Completion::Kind::malformed:
        check(!done->error.empty());
        break;
    }
    return 0;
  }

  std::memcpy(memory.get(), data, std::min(size, sizeof(shm::ControlBlock)));
  try {
    shm::Ring stage = shm::Ring::attach(memory.get(), segment_size);
    const auto& control = stage.control();
    check(control.segment_size <= segment_size);
    for (std::uint32_t slot = 0; slot < stage.slot_count(); ++slot) {
      if (!stage.take(slot)) continue;
      try {
        const auto request = stage.read_request(slot);
        check(request.body.size() <= control.request_capacity);
      } catch (const std::runtime_error&) {
      }
      stage.complete(slot, shm::ResponseView{.status = 200, .body = "ok"});
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
