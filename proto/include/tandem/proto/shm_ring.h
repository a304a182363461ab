// The shared-memory ring between tandem and one stage (`transport: shm`), version 2. This
// header and docs/shm.md are the whole contract: a stage in another language implements it
// from them. Everything is little-endian, in one memfd segment the stage inherits.
//
//   offset 0                 ControlBlock (control_size bytes)
//   slots_offset + i*stride  slot i: SlotHeader at +0, request bytes at +request_offset,
//                            response bytes at +response_offset
//
// Slot i belongs to one side at a time, as its `state` word says:
//
//   free ──tandem writes request──▶ submitted ──stage claims──▶ taken
//     ▲                                                           │
//     └────tandem reads response──── completed ◀──stage writes────┘
//
// A side writes the slot's fields, then stores `state` with release ordering; the other
// side loads `state` with acquire ordering before reading them. Wake-ups travel outside the
// segment (docs/shm.md): a pipe from tandem to the stage and one back. A side writes a
// wake-up only when the other has said it is going to sleep (`stage_sleeping`,
// `tandem_sleeping` in the control block), so a busy channel makes no system calls:
//
//   publisher: store state (release); seq_cst fence; load the other's sleeping word;
//              write a wake-up byte if it is set
//   sleeper:   add 1 to its sleeping word; seq_cst fence; scan the slots' states;
//              block on its pipe only if none has changed; subtract 1 once awake
//
// The two fences make sure at least one side sees the other's store: no wake-up is lost.
//
// Ring is a view over mapped memory: it owns nothing and does no IO, so it is tested on
// ordinary heap memory. Nothing read from the segment is trusted: lengths are checked
// against the capacities tandem chose, because the other process may be buggy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::proto::shm {

inline constexpr std::uint64_t magic = 0x314D48534D444E54ull;  // the bytes "TNDMSHM1"
inline constexpr std::uint32_t version = 2;

inline constexpr std::size_t control_size = 4096;
inline constexpr std::size_t page = 4096;
// Bytes a slot holds for Content-Type, Accept and custom attributes (the runtime API's
// limit for the last), and for the inference id (the API allows 64).
inline constexpr std::uint32_t text_capacity = 1024;
inline constexpr std::uint32_t id_capacity = 256;

// Environment variables that hand a stage its channel: descriptor numbers, inherited.
inline constexpr const char* env_segment_fd = "TANDEM_SHM_FD";
inline constexpr const char* env_submit_fd = "TANDEM_SHM_SUBMIT_FD";
inline constexpr const char* env_complete_fd = "TANDEM_SHM_COMPLETE_FD";

enum class SlotState : std::uint32_t { free = 0, submitted = 1, taken = 2, completed = 3 };

// Bits of SlotHeader::request_flags and response_flags: which optional fields are present.
inline constexpr std::uint32_t flag_content_type = 1u << 0;
inline constexpr std::uint32_t flag_accept = 1u << 1;  // request only
inline constexpr std::uint32_t flag_custom_attributes = 1u << 2;
// Response only: the stage's body did not fit; response_length holds its size, no bytes.
inline constexpr std::uint32_t flag_response_too_large = 1u << 3;
inline constexpr std::uint32_t flag_traceparent = 1u << 4;  // request only

struct Text {
  std::uint32_t length;
  char bytes[text_capacity];
};

struct IdText {
  std::uint32_t length;
  char bytes[id_capacity];
};

// Written once by tandem before the stage starts; read-only afterwards, except stage_pid
// and the two sleeping words (each on a cache line of its own).
struct ControlBlock {
  std::uint64_t magic;              // 0: shm::magic
  std::uint32_t version;            // 8: shm::version
  std::uint32_t slot_count;         // 12: the stage's max_inflight
  std::uint64_t request_capacity;   // 16: bytes of a slot's request area
  std::uint64_t response_capacity;  // 24: bytes of a slot's response area
  std::uint64_t slots_offset;       // 32: where slot 0 starts
  std::uint64_t slot_stride;        // 40: bytes from one slot to the next
  std::uint64_t request_offset;     // 48: the request area, from its slot's start
  std::uint64_t response_offset;    // 56: the response area, from its slot's start
  std::uint64_t segment_size;       // 64: bytes of the whole segment
  std::uint32_t stage_pid;          // 72: set by the stage once it serves the ring (0 before)
  std::uint32_t reserved;           // 76
  std::uint8_t pad0[48];            // 80
  std::uint32_t stage_sleeping;     // 128: stage threads that may block on the submit pipe
  std::uint8_t pad1[60];            // 132
  std::uint32_t tandem_sleeping;    // 192: 1 while tandem may block on the completion pipe
  std::uint8_t pad2[60];            // 196
};

struct SlotHeader {
  std::uint32_t state;              // 0: SlotState, accessed atomically
  std::uint32_t request_flags;      // 4
  std::uint64_t sequence;           // 8: set by tandem per request, echoed in response_sequence
  std::uint64_t request_length;     // 16
  Text content_type;                // 24
  Text accept;                      // 1052
  Text custom_attributes;           // 2080
  IdText inference_id;              // 3108: always present, may be empty
  std::uint32_t status;             // 3368: the stage's HTTP-style status, 200-599
  std::uint32_t response_flags;     // 3372
  std::uint64_t response_sequence;  // 3376
  std::uint64_t response_length;    // 3384
  Text response_content_type;       // 3392
  Text response_custom_attributes;  // 4420
  IdText traceparent;               // 5448: W3C Trace Context, when the client sent one
  // Stage-private (tandem never reads it): the pid of the process that took the slot, 0
  // while no process holds it, so that the parent of several worker processes serving one
  // channel can complete the slots of a worker that died (fail_taken).
  std::uint32_t claimant_pid;  // 5708
};

// What tandem asks for a segment.
struct Geometry {
  std::uint32_t slot_count = 8;
  std::uint64_t request_capacity = 6ull * 1024 * 1024;
  std::uint64_t response_capacity = 6ull * 1024 * 1024;
};

// Where everything lands for a Geometry.
struct Layout {
  std::uint64_t slot_stride = 0;
  std::uint64_t request_offset = 0;
  std::uint64_t response_offset = 0;
  std::uint64_t segment_size = 0;
};
Layout layout_of(const Geometry& geometry);

// A request as written into a slot (views into the caller's memory).
struct RequestView {
  std::string_view body;
  std::optional<std::string_view> content_type;
  std::optional<std::string_view> accept;
  std::optional<std::string_view> custom_attributes;
  std::string_view inference_id;
  std::optional<std::string_view> traceparent;
};

struct ResponseView {
  int status = 200;
  std::string_view body;
  std::optional<std::string_view> content_type;
  std::optional<std::string_view> custom_attributes;
};

// A request or response copied out of a slot.
struct Request {
  std::uint64_t sequence = 0;
  std::string body;
  std::optional<std::string> content_type;
  std::optional<std::string> accept;
  std::optional<std::string> custom_attributes;
  std::string inference_id;
  std::optional<std::string> traceparent;
};

struct Response {
  int status = 0;
  std::string body;
  std::optional<std::string> content_type;
  std::optional<std::string> custom_attributes;
};

// What tandem finds in a completed slot.
struct Completion {
  enum class Kind { response, too_large, malformed };
  Kind kind = Kind::malformed;
  Response response;                // Kind::response
  std::uint64_t response_size = 0;  // Kind::too_large: what the stage wanted to send
  std::string error;                // Kind::malformed: what is wrong
};

class Ring {
 public:
  // Lays out a fresh segment in `memory` (`size` bytes, at least layout_of(geometry)'s
  // segment_size, page-aligned, zero-filled): control block written, every slot free.
  static Ring initialize(void* memory, std::size_t size, const Geometry& geometry);
  // Checks a segment someone else initialized: magic, version, and that every offset and
  // capacity fits `size`. Throws std::runtime_error saying what does not match.
  static Ring attach(void* memory, std::size_t size);

  std::uint32_t slot_count() const { return control().slot_count; }
  std::uint64_t request_capacity() const { return control().request_capacity; }
  std::uint64_t response_capacity() const { return control().response_capacity; }
  SlotState state(std::uint32_t slot) const;
  ControlBlock& control() const { return *static_cast<ControlBlock*>(memory_); }
  SlotHeader& header(std::uint32_t slot) const;

  // tandem: writes `request` into `slot`, which tandem knows to be free, and publishes it.
  // Returns why it does not fit instead (nothing is written then): never truncates.
  std::optional<std::string> submit(std::uint32_t slot, std::uint64_t sequence,
                                    const RequestView& request);
  // tandem: nullopt while `slot` is not completed; otherwise reads the answer to request
  // `sequence` and frees the slot.
  std::optional<Completion> collect(std::uint32_t slot, std::uint64_t sequence);

  // Whose sleeping word: the stage's (waiting for requests) or tandem's (for answers).
  enum class Side { stage, tandem };
  // The sleeper's half of the handshake above. announce_sleep adds one to `side`'s word
  // (a count: a stage may have several threads waiting) and fences; retract_sleep takes it
  // back once awake.
  void announce_sleep(Side side);
  void retract_sleep(Side side);
  // The publisher's half, after it stored a slot's state: fences, then tells whether `side`
  // may be asleep and needs a wake-up byte.
  bool needs_wake(Side side) const;

  // Stage: claims a submitted slot (submitted -> taken) for process `claimant_pid`, which it
  // records in the slot; false when the slot is not submitted. A claimant of 0 records none.
  bool take(std::uint32_t slot, std::uint32_t claimant_pid = 0);
  // Stage: the process that holds taken `slot`, 0 if none is recorded.
  std::uint32_t claimant(std::uint32_t slot) const;
  // Stage: copies out the request of a slot it took. Throws std::runtime_error if the
  // request's lengths do not fit the slot (a broken orchestrator).
  Request read_request(std::uint32_t slot) const;
  // Stage: writes the answer to a slot it took and publishes it. A body over
  // response_capacity is reported as too large (tandem answers the client an error); a
  // header value over text_capacity becomes a 500 saying so.
  void complete(std::uint32_t slot, const ResponseView& response);
  // Stage, in the parent of worker processes sharing the channel, once worker `pid` is
  // gone: completes with `response` every slot that worker had taken and not completed.
  // Returns how many. Call it only for a process that has exited: a live one would complete
  // the same slots.
  std::uint32_t fail_taken(std::uint32_t pid, const ResponseView& response);

 private:
  explicit Ring(void* memory) : memory_(memory) {}
  char* slot_base(std::uint32_t slot) const;
  void publish(std::uint32_t slot, SlotState state);

  void* memory_;
};

}  // namespace tandem::proto::shm
