#include "tandem/proto/shm_ring.h"

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace tandem::proto::shm {

// The layout is the contract: these offsets are the ones docs/shm.md lists.
static_assert(std::is_standard_layout_v<ControlBlock> && std::is_standard_layout_v<SlotHeader>);
static_assert(sizeof(Text) == 1028 && sizeof(IdText) == 260);
static_assert(offsetof(ControlBlock, slot_count) == 12 && offsetof(ControlBlock, stage_pid) == 72);
static_assert(offsetof(ControlBlock, stage_sleeping) == 128);
static_assert(offsetof(ControlBlock, tandem_sleeping) == 192);
static_assert(sizeof(ControlBlock) == 256 && sizeof(ControlBlock) <= control_size);
static_assert(offsetof(SlotHeader, content_type) == 24 && offsetof(SlotHeader, accept) == 1052);
static_assert(offsetof(SlotHeader, custom_attributes) == 2080);
static_assert(offsetof(SlotHeader, inference_id) == 3108 && offsetof(SlotHeader, status) == 3368);
static_assert(offsetof(SlotHeader, response_sequence) == 3376);
static_assert(offsetof(SlotHeader, response_content_type) == 3392);
static_assert(offsetof(SlotHeader, response_custom_attributes) == 4420);
static_assert(offsetof(SlotHeader, traceparent) == 5448 && sizeof(SlotHeader) == 5712);
// Stage-private, in what was the header's tail padding: the layout tandem reads is unchanged.
static_assert(offsetof(SlotHeader, claimant_pid) == 5708);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free, "state words must be lock-free");

namespace {

constexpr std::uint64_t round_up(std::uint64_t n, std::uint64_t to) {
  return (n + to - 1) / to * to;
}

template <typename T>
bool write_text(T& field, std::optional<std::string_view> value, std::uint32_t& flags,
                std::uint32_t flag) {
  field.length = 0;
  if (!value) return true;
  if (value->size() > sizeof field.bytes) return false;
  std::memcpy(field.bytes, value->data(), value->size());
  field.length = static_cast<std::uint32_t>(value->size());
  flags |= flag;
  return true;
}

template <typename T>
std::optional<std::string> read_text(const T& field, std::uint32_t flags, std::uint32_t flag,
                                     bool& valid) {
  if ((flags & flag) == 0) return std::nullopt;
  if (field.length > sizeof field.bytes) {
    valid = false;
    return std::nullopt;
  }
  return std::string(field.bytes, field.length);
}

std::string too_long(std::string_view what, std::size_t size, std::size_t capacity) {
  return std::string(what) + " of " + std::to_string(size) +
         " bytes is over the shared-memory slot's " + std::to_string(capacity) + "-byte field";
}

}  // namespace

Layout layout_of(const Geometry& geometry) {
  Layout layout;
  layout.request_offset = round_up(sizeof(SlotHeader), page);
  layout.response_offset = layout.request_offset + round_up(geometry.request_capacity, page);
  layout.slot_stride = layout.response_offset + round_up(geometry.response_capacity, page);
  layout.segment_size = control_size + layout.slot_stride * geometry.slot_count;
  return layout;
}

Ring Ring::initialize(void* memory, std::size_t size, const Geometry& geometry) {
  const Layout layout = layout_of(geometry);
  if (geometry.slot_count == 0 || size < layout.segment_size)
    throw std::invalid_argument("shared-memory segment too small for its geometry");
  auto& c = *static_cast<ControlBlock*>(memory);
  c = ControlBlock{};
  c.magic = magic;
  c.version = version;
  c.slot_count = geometry.slot_count;
  c.request_capacity = geometry.request_capacity;
  c.response_capacity = geometry.response_capacity;
  c.slots_offset = control_size;
  c.slot_stride = layout.slot_stride;
  c.request_offset = layout.request_offset;
  c.response_offset = layout.response_offset;
  c.segment_size = layout.segment_size;
  Ring ring(memory);
  for (std::uint32_t i = 0; i < geometry.slot_count; ++i) ring.publish(i, SlotState::free);
  return ring;
}

Ring Ring::attach(void* memory, std::size_t size) {
  if (size < sizeof(ControlBlock)) throw std::runtime_error("shared-memory segment too small");
  const auto& c = *static_cast<const ControlBlock*>(memory);
  if (c.magic != magic) throw std::runtime_error("not a tandem shared-memory segment (bad magic)");
  if (c.version != version) {
    throw std::runtime_error("shared-memory segment has layout version " +
                             std::to_string(c.version) + "; this side speaks version " +
                             std::to_string(version));
  }
  const Layout expected = layout_of({c.slot_count, c.request_capacity, c.response_capacity});
  if (c.slot_count == 0 || c.slots_offset != control_size ||
      c.slot_stride != expected.slot_stride || c.request_offset != expected.request_offset ||
      c.response_offset != expected.response_offset || c.segment_size != expected.segment_size ||
      c.segment_size > size) {
    throw std::runtime_error("shared-memory segment's control block is inconsistent");
  }
  return Ring(memory);
}

char* Ring::slot_base(std::uint32_t slot) const {
  const auto& c = control();
  return static_cast<char*>(memory_) + c.slots_offset + c.slot_stride * slot;
}

SlotHeader& Ring::header(std::uint32_t slot) const {
  return *reinterpret_cast<SlotHeader*>(slot_base(slot));
}

SlotState Ring::state(std::uint32_t slot) const {
  return static_cast<SlotState>(
      std::atomic_ref<std::uint32_t>(header(slot).state).load(std::memory_order_acquire));
}

void Ring::publish(std::uint32_t slot, SlotState state) {
  std::atomic_ref<std::uint32_t>(header(slot).state)
      .store(static_cast<std::uint32_t>(state), std::memory_order_release);
}

std::optional<std::string> Ring::submit(std::uint32_t slot, std::uint64_t sequence,
                                        const RequestView& request) {
  const auto& c = control();
  if (request.body.size() > c.request_capacity) {
    return "the request body of " + std::to_string(request.body.size()) +
           " bytes is over the shared-memory slot's request area of " +
           std::to_string(c.request_capacity) + " bytes";
  }
  auto& h = header(slot);
  std::uint32_t flags = 0;
  if (!write_text(h.content_type, request.content_type, flags, flag_content_type))
    return too_long("the Content-Type", request.content_type->size(), text_capacity);
  if (!write_text(h.accept, request.accept, flags, flag_accept))
    return too_long("the Accept header", request.accept->size(), text_capacity);
  if (!write_text(h.custom_attributes, request.custom_attributes, flags, flag_custom_attributes)) {
    return too_long("the custom attributes", request.custom_attributes->size(), text_capacity);
  }
  std::uint32_t unused = 0;
  if (!write_text(h.inference_id, request.inference_id, unused, 0))
    return too_long("the inference id", request.inference_id.size(), id_capacity);
  if (!write_text(h.traceparent, request.traceparent, flags, flag_traceparent))
    return too_long("the traceparent header", request.traceparent->size(), id_capacity);
  h.request_flags = flags;
  h.sequence = sequence;
  h.request_length = request.body.size();
  if (!request.body.empty())
    std::memcpy(slot_base(slot) + c.request_offset, request.body.data(), request.body.size());
  publish(slot, SlotState::submitted);
  return std::nullopt;
}

std::optional<Completion> Ring::collect(std::uint32_t slot, std::uint64_t sequence) {
  if (state(slot) != SlotState::completed) return std::nullopt;
  const auto& c = control();
  const auto& h = header(slot);
  Completion done;
  bool valid = true;
  if (h.response_sequence != sequence) {
    done.error = "the stage answered request " + std::to_string(h.response_sequence) +
                 " in a slot holding request " + std::to_string(sequence);
  } else if (h.response_flags & flag_response_too_large) {
    done.kind = Completion::Kind::too_large;
    done.response_size = h.response_length;
  } else if (h.response_length > c.response_capacity) {
    done.error = "the stage wrote a response length of " + std::to_string(h.response_length) +
                 " bytes into a " + std::to_string(c.response_capacity) + "-byte area";
  } else if (h.status < 100 || h.status > 999) {
    done.error = "the stage wrote status " + std::to_string(h.status);
  } else {
    done.response.status = static_cast<int>(h.status);
    done.response.content_type =
        read_text(h.response_content_type, h.response_flags, flag_content_type, valid);
    done.response.custom_attributes =
        read_text(h.response_custom_attributes, h.response_flags, flag_custom_attributes, valid);
    done.response.body.assign(slot_base(slot) + c.response_offset, h.response_length);
    if (valid) {
      done.kind = Completion::Kind::response;
    } else {
      done.error = "the stage wrote a header length over the slot's field";
    }
  }
  publish(slot, SlotState::free);
  return done;
}

namespace {

std::atomic_ref<std::uint32_t> sleeping_word(ControlBlock& c, Ring::Side side) {
  return std::atomic_ref<std::uint32_t>(side == Ring::Side::stage ? c.stage_sleeping
                                                                  : c.tandem_sleeping);
}

}  // namespace

void Ring::announce_sleep(Side side) {
  sleeping_word(control(), side).fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void Ring::retract_sleep(Side side) {
  sleeping_word(control(), side).fetch_sub(1, std::memory_order_seq_cst);
}

bool Ring::needs_wake(Side side) const {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return sleeping_word(control(), side).load(std::memory_order_relaxed) != 0;
}

// The claimant is recorded after the claim and cleared before the slot is completed, so
// that while a slot is taken its claimant is 0 or the process that took it, never an
// earlier one: a parent completing a dead worker's slots cannot take a live worker's.
// (A worker killed between the claim and the store leaves its slot taken with claimant 0.)
bool Ring::take(std::uint32_t slot, std::uint32_t claimant_pid) {
  auto expected = static_cast<std::uint32_t>(SlotState::submitted);
  if (!std::atomic_ref<std::uint32_t>(header(slot).state)
           .compare_exchange_strong(expected, static_cast<std::uint32_t>(SlotState::taken),
                                    std::memory_order_acq_rel, std::memory_order_relaxed)) {
    return false;
  }
  std::atomic_ref<std::uint32_t>(header(slot).claimant_pid)
      .store(claimant_pid, std::memory_order_relaxed);
  return true;
}

std::uint32_t Ring::claimant(std::uint32_t slot) const {
  return std::atomic_ref<std::uint32_t>(header(slot).claimant_pid).load(std::memory_order_relaxed);
}

std::uint32_t Ring::fail_taken(std::uint32_t pid, const ResponseView& response) {
  std::uint32_t completed = 0;
  for (std::uint32_t slot = 0; slot < slot_count(); ++slot) {
    if (pid != 0 && state(slot) == SlotState::taken && claimant(slot) == pid) {
      complete(slot, response);
      ++completed;
    }
  }
  return completed;
}

Request Ring::read_request(std::uint32_t slot) const {
  const auto& c = control();
  const auto& h = header(slot);
  bool valid = h.request_length <= c.request_capacity && h.inference_id.length <= id_capacity;
  Request request;
  request.sequence = h.sequence;
  request.content_type = read_text(h.content_type, h.request_flags, flag_content_type, valid);
  request.accept = read_text(h.accept, h.request_flags, flag_accept, valid);
  request.custom_attributes =
      read_text(h.custom_attributes, h.request_flags, flag_custom_attributes, valid);
  request.traceparent = read_text(h.traceparent, h.request_flags, flag_traceparent, valid);
  if (!valid) throw std::runtime_error("slot " + std::to_string(slot) + " holds bad lengths");
  request.inference_id.assign(h.inference_id.bytes, h.inference_id.length);
  request.body.assign(slot_base(slot) + c.request_offset, h.request_length);
  return request;
}

void Ring::complete(std::uint32_t slot, const ResponseView& response) {
  const auto& c = control();
  auto& h = header(slot);
  h.response_sequence = h.sequence;
  std::uint32_t flags = 0;
  h.status = static_cast<std::uint32_t>(response.status);
  h.response_length = response.body.size();
  std::string_view body = response.body;
  std::string problem;
  if (response.status < 200 || response.status > 599) {
    problem = "the stage's handler answered status " + std::to_string(response.status) +
              ", outside 200-599";
  } else if (!write_text(h.response_content_type, response.content_type, flags,
                         flag_content_type)) {
    problem = too_long("the response Content-Type", response.content_type->size(), text_capacity);
  } else if (!write_text(h.response_custom_attributes, response.custom_attributes, flags,
                         flag_custom_attributes)) {
    problem = too_long("the response custom attributes", response.custom_attributes->size(),
                       text_capacity);
  } else if (body.size() > c.response_capacity) {
    flags = flag_response_too_large;
    body = {};
  }
  if (!problem.empty()) {
    h.status = 500;
    flags = 0;
    write_text(h.response_content_type, std::string_view("text/plain"), flags, flag_content_type);
    body = problem.size() <= c.response_capacity ? std::string_view(problem) : std::string_view();
    h.response_length = body.size();
  }
  h.response_flags = flags;
  if (!body.empty()) std::memcpy(slot_base(slot) + c.response_offset, body.data(), body.size());
  std::atomic_ref<std::uint32_t>(h.claimant_pid).store(0, std::memory_order_relaxed);
  publish(slot, SlotState::completed);
}

}  // namespace tandem::proto::shm
