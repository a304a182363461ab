// Mini-batches: the request bodies one object's records are sent in.
//
//   SingleRecord  one record per request: the record's bytes_to_send (RecordIO and TFRecord
//                 records without framing or padding, Line records as they are).
//   MultiRecord   consecutive records packed, framed as in the object, while the body stays
//                 within the limit. A batch is never empty and never spans two objects.
//
// The limit is MaxPayloadInMB × 1 MiB (1,048,576 bytes) and applies to the bytes sent. A record
// larger than the limit on its own is an error naming its index, offset and the limit.
//
// MaxPayloadInMB 0 means no limit: SageMaker then streams the payload with chunked encoding.
// The runner does the same rather than build one huge batch; `plan_reading()` says how. For
// MultiRecord (and SplitType None, one record) the whole object is then one request whose body
// is the records' framed bytes (after any InputFilter) in order. With SplitType Line or None and
// no record needed whole (no InputFilter, no JoinSource Input) those bytes go by without any
// record being held (PassThroughSplitter), so a record of any size is sent. Otherwise each
// record is held whole while it is read (to filter it, join it, check its framing, or send it
// alone with SingleRecord) and is capped at kHeldRecordLimitBytes, SageMaker's largest payload.
//
// Ownership: the batcher owns the batch it is filling and hands each complete Batch to the
// caller by value. One batcher per object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/transform/options.h"
#include "pipeline/transform/record.h"
#include "pipeline/transform/result.h"

namespace tandem::transform {

struct Batch {
  std::string bytes;  // the request body
  std::uint64_t first_record_index = 0;
  std::uint64_t record_count = 0;
  std::uint64_t first_offset = 0;  // byte offset of the first record in the object
  // With JoinSource Input: each record's content before any InputFilter, in order.
  std::vector<std::string> join_inputs;
};

// MaxPayloadInMB as bytes; 0 stays 0 (no limit).
std::uint64_t payload_limit_bytes(std::int64_t max_payload_in_mb);

// True when the runner should stream the object as one chunked request instead of batching
// (MaxPayloadInMB 0 with MultiRecord or SplitType None).
bool streams_whole_object(std::uint64_t max_payload_bytes, BatchStrategy strategy, SplitType split);

// With MaxPayloadInMB 0, the largest record held whole: 100 MiB.
inline constexpr std::uint64_t kHeldRecordLimitBytes = kMaxPayloadInMB * kBytesPerMiB;

// How the runner reads one object's records.
struct ReadingPlan {
  bool stream_object = false;  // the whole object is one chunked request
  bool pass_through = false;   // ... whose records go by unheld (PassThroughSplitter)
  // For the splitter, when records are split and held: the largest record (0: none) and, when
  // the limit is not MaxPayloadInMB itself, why (added to the error).
  std::uint64_t record_limit = 0;
  std::string limit_reason;
};

// `records_needed_whole`: an InputFilter or JoinSource Input needs each record's content.
ReadingPlan plan_reading(std::uint64_t max_payload_bytes, BatchStrategy strategy, SplitType split,
                         bool records_needed_whole);

class Batcher {
 public:
  // `max_payload_bytes` 0: no limit. `keep_join_inputs`: fill Batch::join_inputs.
  Batcher(BatchStrategy strategy, std::uint64_t max_payload_bytes, bool keep_join_inputs = false);

  // Adds the next record; returns the batch this record completes or closes, if any.
  Result<std::optional<Batch>> add(const Record& record);
  // The object has ended: the last batch, if records are pending.
  std::optional<Batch> finish();

 private:
  void append(const Record& record, std::string_view bytes);
  std::optional<Batch> take_pending();

  BatchStrategy strategy_;
  std::uint64_t limit_;
  bool keep_join_inputs_;
  Batch pending_;
};

}  // namespace tandem::transform
