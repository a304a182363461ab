#include "pipeline/batch/object_reader.h"

#include <utility>
#include <vector>

#include "pipeline/batch/store_calls.h"

namespace tandem::batch {

ObjectReader::ObjectReader(const ReadSettings& settings, const InputObject& input, ReadSink& sink)
    : settings_(settings),
      input_(input),
      sink_(sink),
      splitter_(transform::make_splitter(settings.split_type, settings.reading.record_limit,
                                         settings.reading.limit_reason)),
      batcher_(settings.batch_strategy, settings.payload_limit, settings.processor->joins()) {
  if (settings.reading.pass_through) pass_through_.emplace(settings.split_type);
  if (settings.compression == transform::CompressionType::gzip) inflater_.emplace();
}

tandem::Status<ObjectFailure> ObjectReader::read() {
  auto stream = store::open(*input_.store, input_.key);
  if (!stream) return std::move(stream).error();
  const transform::GzipInflater::Sink sink = [this](std::string_view bytes) {
    return split(bytes);
  };
  std::vector<char> buffer(kReadChunkBytes);
  for (;;) {
    if (moot()) {
      end_stream(false, std::nullopt);
      return {};
    }
    const auto n = store::read(**stream, buffer.data(), buffer.size());
    if (!n) {
      end_stream(false, "reading the object failed");
      return n.error();
    }
    if (*n == 0) break;
    sink_.bytes_read(*n);
    const std::string_view chunk(buffer.data(), *n);
    transform::Status status = inflater_ ? inflater_->feed(chunk, sink) : split(chunk);
    if (!status) return input_failure(status.error());
  }
  if (inflater_) {
    if (auto status = inflater_->finish(); !status) return input_failure(status.error());
  }
  if (auto status = split_end(); !status) return input_failure(status.error());
  end_stream(true, std::nullopt);
  if (auto last = batcher_.finish()) sink_.submit(std::move(*last));
  return {};
}

// The object's request failed (failing the object), its streamed request is over, or the job
// is stopping: nothing more of the object is wanted.
bool ObjectReader::moot() const {
  return sink_.abandoned() || (stream_ && stream_->over());
}

transform::Status ObjectReader::abandon() {
  abandoned_ = true;
  return transform::Error{"abandoned"};
}

transform::Status ObjectReader::split(std::string_view bytes) {
  if (moot()) return abandon();
  if (!pass_through_) return take(splitter_->feed(bytes));
  const std::uint64_t before = pass_through_->records();
  pass_through_->feed(bytes, piece_);
  return passed(before);
}

transform::Status ObjectReader::split_end() {
  if (!pass_through_) return take(splitter_->finish());
  const std::uint64_t before = pass_through_->records();
  pass_through_->finish(piece_);
  return passed(before);
}

transform::Status ObjectReader::take(transform::Result<std::vector<transform::Record>> records) {
  if (!records) return records.error();
  const auto& processor = *settings_.processor;
  for (auto& record : *records) {
    sink_.records_read(1);
    if (processor.filters_input()) {
      auto filtered = processor.filter_input(std::move(record));
      if (!filtered) return filtered.error();
      record = std::move(*filtered);
    }
    if (settings_.reading.stream_object) {
      if (!stream_record(record)) return abandon();
      continue;
    }
    auto batch = batcher_.add(record);
    if (!batch) return batch.error();
    if (*batch && !sink_.submit(std::move(**batch))) return abandon();
  }
  return {};
}

// After the pass-through splitter appended to `piece_` (bytes only once a record has begun).
transform::Status ObjectReader::passed(std::uint64_t records_before) {
  const std::uint64_t begun = pass_through_->records() - records_before;
  counts_.record_count += begun;
  sink_.records_read(begun);
  if (piece_.empty()) return {};
  if (!stream_ && !start_stream(0, pass_through_->first_offset())) return abandon();
  return send_piece() ? transform::Status() : abandon();
}

bool ObjectReader::stream_record(const transform::Record& record) {
  if (!stream_ && !start_stream(record.index, record.offset)) return false;
  ++counts_.record_count;
  if (settings_.processor->joins()) {
    counts_.join_inputs.push_back(
        record.unfiltered_content.value_or(std::string(record.content())));
  }
  piece_.append(record.bytes_to_send(settings_.batch_strategy));
  return send_piece();
}

// Starts the streamed request at its first record.
bool ObjectReader::start_stream(std::uint64_t first_index, std::uint64_t first_offset) {
  counts_.first_record_index = first_index;
  counts_.first_offset = first_offset;
  stream_ = sink_.start_stream(first_index, first_offset);
  return stream_ != nullptr;
}

bool ObjectReader::send_piece() {
  if (piece_.size() < kReadChunkBytes) return true;
  return stream_->push(std::exchange(piece_, std::string()), sink_.stopping());
}

// Ends the streamed request, if one was started: complete, cut short by an input error
// (`failure`), or cut short because the request is over or the job stopping.
void ObjectReader::end_stream(bool complete, std::optional<std::string> failure) {
  if (!stream_ || stream_ended_) return;
  stream_ended_ = true;
  if (complete && !piece_.empty()) stream_->push(std::move(piece_), sink_.stopping());
  sink_.end_stream(std::move(counts_), complete, std::move(failure));
}

tandem::Status<ObjectFailure> ObjectReader::input_failure(const transform::Error& error) {
  end_stream(false, abandoned_ ? std::nullopt : std::optional<std::string>(error.message));
  if (abandoned_) return {};
  return ObjectFailure::input(error.message);
}

}  // namespace tandem::batch
