#include <fmt/format.h>

#include <algorithm>

#include "pipeline/transform/binary_splitters.h"

namespace tandem::transform {
namespace {

constexpr std::size_t kHeaderBytes = 8;  // uint32 magic, uint32 lrecord
constexpr std::uint32_t kLengthMask = (1U << 29) - 1;
// The magic in file order; the writer drops it where it splits a record and the reader puts
// it back (dmlc-core's RecordIOWriter/RecordIOReader).
constexpr std::string_view kMagicBytes("\x0A\x23\xD7\xCE", 4);

std::string_view flag_name(std::uint32_t flag) {
  switch (flag) {
    case 0:
      return "whole record";
    case 1:
      return "start part";
    case 2:
      return "middle part";
    default:
      return "end part";
  }
}

}  // namespace

std::uint32_t read_le32(std::string_view bytes) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::uint64_t read_le64(std::string_view bytes) {
  return read_le32(bytes) | (static_cast<std::uint64_t>(read_le32(bytes.substr(4))) << 32);
}

Result<std::vector<Record>> RecordIOSplitter::feed(std::string_view chunk) {
  if (error_) return *error_;
  std::vector<Record> out;
  while (!chunk.empty()) {
    if (reading_header_ && stage_read_ == 0) {
      if (framed_.empty()) record_offset_ = position_;
      part_offset_ = position_;
    }
    const std::size_t stage_size = reading_header_ ? kHeaderBytes : part_padded_;
    const std::size_t take = std::min(stage_size - stage_read_, chunk.size());
    framed_.append(chunk.substr(0, take));
    position_ += take;
    stage_read_ += take;
    chunk.remove_prefix(take);
    if (stage_read_ < stage_size) break;
    if (reading_header_) {
      if (auto status = start_part(); !status) return std::move(status).error();
      if (part_padded_ == 0) finish_part(out);
    } else {
      finish_part(out);
    }
  }
  return out;
}

Status RecordIOSplitter::start_part() {
  const std::string_view header = std::string_view(framed_).substr(framed_.size() - kHeaderBytes);
  const std::uint32_t magic = read_le32(header);
  if (magic != kMagic) {
    return fail(next_index_, record_offset_,
                fmt::format("bad RecordIO magic 0x{:08x} at byte offset {}, expected 0x{:08x}",
                            magic, part_offset_, kMagic));
  }
  const std::uint32_t lrecord = read_le32(header.substr(4));
  const std::uint32_t flag = lrecord >> 29;
  const std::uint32_t length = lrecord & kLengthMask;
  const bool in_multipart = content_.has_value();
  if (flag > 3) {
    return fail(
        next_index_, record_offset_,
        fmt::format("invalid RecordIO continuation flag {} at byte offset {}", flag, part_offset_));
  }
  if (!in_multipart && (flag == 2 || flag == 3)) {
    return fail(next_index_, record_offset_,
                fmt::format("RecordIO {} (flag {}) at byte offset {} without a start part",
                            flag_name(flag), flag, part_offset_));
  }
  if (in_multipart && (flag == 0 || flag == 1)) {
    return fail(next_index_, record_offset_,
                fmt::format("multi-part RecordIO record without its end part: a {} (flag {}) "
                            "at byte offset {} follows its start",
                            flag_name(flag), flag, part_offset_));
  }
  const std::uint64_t content_size =
      (in_multipart ? content_->size() + kMagicBytes.size() : 0) + length;
  if (over_limit(content_size)) {
    const bool complete = flag == 0 || flag == 3;
    return fail_too_large(next_index_, record_offset_,
                          complete ? std::optional<std::uint64_t>(content_size) : std::nullopt);
  }
  part_flag_ = flag;
  part_length_ = length;
  part_padded_ = (length + 3U) & ~3U;
  reading_header_ = false;
  stage_read_ = 0;
  return {};
}

void RecordIOSplitter::finish_part(std::vector<Record>& out) {
  const std::size_t data_begin = framed_.size() - part_padded_;
  const std::string_view data = std::string_view(framed_).substr(data_begin, part_length_);
  reading_header_ = true;
  stage_read_ = 0;
  if (part_flag_ == 1) {
    content_ = std::string(data);
    return;
  }
  if (part_flag_ != 0) {
    content_->append(kMagicBytes);
    content_->append(data);
    if (part_flag_ == 2) return;
  }
  Record record;
  record.index = next_index_++;
  record.offset = record_offset_;
  record.content_begin = data_begin;
  record.content_size = part_length_;
  record.reassembled = std::move(content_);
  record.single_record_sends_content = true;
  record.framed = std::move(framed_);
  framed_.clear();
  content_.reset();
  out.push_back(std::move(record));
}

Result<std::vector<Record>> RecordIOSplitter::finish() {
  if (error_) return *error_;
  if (framed_.empty()) return std::vector<Record>{};
  if (!reading_header_) {
    return fail(next_index_, record_offset_,
                fmt::format("truncated: the object ends inside RecordIO data at byte offset {} "
                            "({} of {} bytes with padding)",
                            position_, stage_read_, part_padded_));
  }
  if (stage_read_ > 0) {
    return fail(next_index_, record_offset_,
                fmt::format("truncated: the object ends inside a RecordIO header at byte offset "
                            "{} ({} of {} bytes)",
                            position_, stage_read_, kHeaderBytes));
  }
  return fail(next_index_, record_offset_,
              fmt::format("truncated: the object ends at byte offset {} before the end part of "
                          "a multi-part RecordIO record",
                          position_));
}

}  // namespace tandem::transform
