#include "pipeline/transform/batcher.h"

#include "pipeline/transform/splitter.h"

namespace tandem::transform {

std::uint64_t payload_limit_bytes(std::int64_t max_payload_in_mb) {
  return max_payload_in_mb <= 0 ? 0 : static_cast<std::uint64_t>(max_payload_in_mb) * kBytesPerMiB;
}

bool streams_whole_object(std::uint64_t max_payload_bytes, BatchStrategy strategy,
                          SplitType split) {
  return max_payload_bytes == 0 &&
         (strategy == BatchStrategy::multi_record || split == SplitType::none);
}

ReadingPlan plan_reading(std::uint64_t max_payload_bytes, BatchStrategy strategy, SplitType split,
                         bool records_needed_whole) {
  ReadingPlan plan;
  plan.stream_object = streams_whole_object(max_payload_bytes, strategy, split);
  plan.pass_through =
      plan.stream_object && !records_needed_whole && PassThroughSplitter::supports(split);
  plan.record_limit = max_payload_bytes;
  if (max_payload_bytes == 0) {
    plan.record_limit = kHeldRecordLimitBytes;
    plan.limit_reason =
        "with MaxPayloadInMB 0 a record is held whole, and limited to 100 MiB, when it is sent "
        "alone (SingleRecord), filtered (InputFilter), joined (JoinSource Input) or checked "
        "(RecordIO, TFRecord); a Line or None object without these is streamed whatever its "
        "records' sizes";
  }
  return plan;
}

Batcher::Batcher(BatchStrategy strategy, std::uint64_t max_payload_bytes, bool keep_join_inputs)
    : strategy_(strategy), limit_(max_payload_bytes), keep_join_inputs_(keep_join_inputs) {}

Result<std::optional<Batch>> Batcher::add(const Record& record) {
  const std::string_view bytes = record.bytes_to_send(strategy_);
  if (limit_ != 0 && bytes.size() > limit_) {
    return Error{record_too_large(record.index, record.offset, bytes.size(), limit_)};
  }
  std::optional<Batch> completed;
  if (strategy_ == BatchStrategy::single_record) {
    append(record, bytes);
    return take_pending();
  }
  const bool fits = limit_ == 0 || pending_.bytes.size() + bytes.size() <= limit_;
  if (!fits) completed = take_pending();
  append(record, bytes);
  return completed;
}

std::optional<Batch> Batcher::finish() {
  return take_pending();
}

void Batcher::append(const Record& record, std::string_view bytes) {
  if (pending_.record_count == 0) {
    pending_.first_record_index = record.index;
    pending_.first_offset = record.offset;
  }
  pending_.bytes.append(bytes);
  pending_.record_count += 1;
  if (keep_join_inputs_) {
    pending_.join_inputs.push_back(
        record.unfiltered_content.value_or(std::string(record.content())));
  }
}

std::optional<Batch> Batcher::take_pending() {
  if (pending_.record_count == 0) return std::nullopt;
  Batch done = std::move(pending_);
  pending_ = Batch{};
  return done;
}

}  // namespace tandem::transform
