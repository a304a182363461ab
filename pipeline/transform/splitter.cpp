#include "pipeline/transform/splitter.h"

#include <fmt/format.h>

#include "pipeline/transform/binary_splitters.h"

namespace tandem::transform {

namespace {

std::unique_ptr<SplitterBase> new_splitter(SplitType type, std::uint64_t max_record_bytes) {
  switch (type) {
    case SplitType::none:
      return std::make_unique<WholeObjectSplitter>(max_record_bytes);
    case SplitType::line:
      return std::make_unique<LineSplitter>(max_record_bytes);
    case SplitType::recordio:
      return std::make_unique<RecordIOSplitter>(max_record_bytes);
    case SplitType::tfrecord:
      return std::make_unique<TFRecordSplitter>(max_record_bytes);
  }
  return std::make_unique<WholeObjectSplitter>(max_record_bytes);
}

}  // namespace

std::string record_too_large(std::uint64_t index, std::uint64_t offset,
                             std::optional<std::uint64_t> size, std::uint64_t limit,
                             std::string_view reason) {
  const std::string mib =
      limit % kBytesPerMiB == 0 ? fmt::format(" ({} MiB)", limit / kBytesPerMiB) : "";
  const std::string sized = size ? fmt::format("{} bytes, larger", *size) : "larger";
  const std::string why = reason.empty() ? "" : fmt::format("; {}", reason);
  return fmt::format("record {} (byte offset {}): {} than the limit of {} bytes{}{}", index, offset,
                     sized, limit, mib, why);
}

std::unique_ptr<RecordSplitter> make_splitter(SplitType type, std::uint64_t max_record_bytes,
                                              std::string limit_reason) {
  auto splitter = new_splitter(type, max_record_bytes);
  splitter->set_limit_reason(std::move(limit_reason));
  return splitter;
}

Error SplitterBase::fail(std::uint64_t index, std::uint64_t offset, std::string_view what) {
  error_ = Error{fmt::format("record {} (byte offset {}): {}", index, offset, what)};
  return *error_;
}

Error SplitterBase::fail_too_large(std::uint64_t index, std::uint64_t offset,
                                   std::optional<std::uint64_t> size) {
  error_ = Error{record_too_large(index, offset, size, max_record_bytes_, limit_reason_)};
  return *error_;
}

Result<std::vector<Record>> WholeObjectSplitter::feed(std::string_view chunk) {
  if (error_) return *error_;
  object_.append(chunk);
  position_ += chunk.size();
  if (over_limit(object_.size())) {
    const std::string hint =
        limit_reason_.empty()
            ? "split it (SplitType Line, RecordIO or TFRecord) or raise MaxPayloadInMB"
            : limit_reason_;
    error_ = Error{fmt::format(
        "the object (SplitType None: one record) is larger than the limit of {} bytes; {}",
        max_record_bytes_, hint)};
    return *error_;
  }
  return std::vector<Record>{};
}

Result<std::vector<Record>> WholeObjectSplitter::finish() {
  if (error_) return *error_;
  std::vector<Record> out;
  if (!object_.empty()) {
    Record record;
    record.index = next_index_++;
    record.content_size = object_.size();
    record.framed = std::move(object_);
    object_.clear();
    out.push_back(std::move(record));
  }
  return out;
}

Result<std::vector<Record>> LineSplitter::feed(std::string_view chunk) {
  if (error_) return *error_;
  std::vector<Record> out;
  while (!chunk.empty()) {
    const std::size_t newline = chunk.find('\n');
    const std::size_t take = newline == std::string_view::npos ? chunk.size() : newline + 1;
    if (line_.empty()) line_offset_ = position_;
    line_.append(chunk.substr(0, take));
    position_ += take;
    chunk.remove_prefix(take);
    if (over_limit(line_.size())) {
      const bool complete = newline != std::string_view::npos;
      return fail_too_large(next_index_, line_offset_,
                            complete ? std::optional<std::uint64_t>(line_.size()) : std::nullopt);
    }
    if (newline != std::string_view::npos) emit(out);
  }
  return out;
}

Result<std::vector<Record>> LineSplitter::finish() {
  if (error_) return *error_;
  std::vector<Record> out;
  if (!line_.empty()) emit(out);
  return out;
}

void LineSplitter::emit(std::vector<Record>& out) {
  std::size_t content_size = line_.size();
  if (line_.ends_with("\r\n")) {
    content_size -= 2;
  } else if (line_.ends_with('\n')) {
    content_size -= 1;
  }
  const bool empty_line = content_size == 0;
  if (!empty_line) {
    Record record;
    record.index = next_index_++;
    record.offset = line_offset_;
    record.content_size = content_size;
    record.framed = std::move(line_);
    out.push_back(std::move(record));
  }
  line_.clear();
}

// ---- PassThroughSplitter ----------------------------------------------------------------------

void PassThroughSplitter::begin_record(std::uint64_t offset) {
  if (records_ == 0) first_offset_ = offset;
  ++records_;
}

void PassThroughSplitter::feed(std::string_view chunk, std::string& out) {
  if (type_ == SplitType::none) {
    if (!chunk.empty() && records_ == 0) begin_record(0);
    out.append(chunk);
    position_ += chunk.size();
    return;
  }
  while (!chunk.empty()) {
    if (!in_line_) {
      // Between lines: an empty line ("\n", "\r\n") is dropped, anything else begins a record.
      const char next = chunk.front();
      if (held_cr_) {
        held_cr_ = false;
        if (next == '\n') {
          ++position_;
          chunk.remove_prefix(1);
          continue;
        }
        begin_record(position_ - 1);
        out.push_back('\r');
      } else if (next == '\n' || next == '\r') {
        held_cr_ = next == '\r';
        ++position_;
        chunk.remove_prefix(1);
        continue;
      } else {
        begin_record(position_);
      }
      in_line_ = true;
    }
    const std::size_t newline = chunk.find('\n');
    const std::size_t take = newline == std::string_view::npos ? chunk.size() : newline + 1;
    out.append(chunk.substr(0, take));
    position_ += take;
    chunk.remove_prefix(take);
    if (newline != std::string_view::npos) in_line_ = false;
  }
}

void PassThroughSplitter::finish(std::string& out) {
  if (!held_cr_) return;
  held_cr_ = false;  // a last line "\r" without a line break: its content is not empty
  begin_record(position_ - 1);
  out.push_back('\r');
}

}  // namespace tandem::transform
