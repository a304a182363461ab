#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "pipeline/transform/binary_splitters.h"
#include "pipeline/transform/crc32c.h"

namespace tandem::transform {

Result<std::vector<Record>> TFRecordSplitter::feed(std::string_view chunk) {
  if (error_) return *error_;
  std::vector<Record> out;
  while (!chunk.empty()) {
    if (framed_.empty()) record_offset_ = position_;
    const std::uint64_t need =
        header_checked_ ? kHeaderBytes + data_length_ + kFooterBytes : kHeaderBytes;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(need - framed_.size(), chunk.size()));
    framed_.append(chunk.substr(0, take));
    position_ += take;
    chunk.remove_prefix(take);
    if (framed_.size() < need) break;
    if (!header_checked_) {
      if (auto status = check_header(); !status) return std::move(status).error();
      continue;
    }
    if (auto status = finish_record(out); !status) return std::move(status).error();
  }
  return out;
}

Status TFRecordSplitter::check_header() {
  const std::string_view header(framed_);
  const std::uint64_t length = read_le64(header);
  const std::uint32_t stored = read_le32(header.substr(8));
  const std::uint32_t computed = mask_crc32c(crc32c(header.substr(0, 8)));
  if (stored != computed) {
    return fail(next_index_, record_offset_,
                fmt::format("TFRecord length CRC mismatch (stored 0x{:08x}, computed 0x{:08x})",
                            stored, computed));
  }
  if (over_limit(length)) return fail_too_large(next_index_, record_offset_, length);
  if (length > std::numeric_limits<std::size_t>::max() - kHeaderBytes - kFooterBytes) {
    return fail(next_index_, record_offset_,
                fmt::format("TFRecord length {} is too large", length));
  }
  data_length_ = length;
  header_checked_ = true;
  return {};
}

Status TFRecordSplitter::finish_record(std::vector<Record>& out) {
  const std::string_view frame(framed_);
  const auto length = static_cast<std::size_t>(data_length_);
  const std::uint32_t stored = read_le32(frame.substr(kHeaderBytes + length));
  const std::uint32_t computed = mask_crc32c(crc32c(frame.substr(kHeaderBytes, length)));
  if (stored != computed) {
    return fail(next_index_, record_offset_,
                fmt::format("TFRecord data CRC mismatch (stored 0x{:08x}, computed 0x{:08x})",
                            stored, computed));
  }
  Record record;
  record.index = next_index_++;
  record.offset = record_offset_;
  record.content_begin = kHeaderBytes;
  record.content_size = length;
  record.single_record_sends_content = true;
  record.framed = std::move(framed_);
  framed_.clear();
  header_checked_ = false;
  out.push_back(std::move(record));
  return {};
}

Result<std::vector<Record>> TFRecordSplitter::finish() {
  if (error_) return *error_;
  if (framed_.empty()) return std::vector<Record>{};
  if (!header_checked_) {
    return fail(next_index_, record_offset_,
                fmt::format("truncated: the object ends inside a TFRecord header at byte offset "
                            "{} ({} of {} bytes)",
                            position_, framed_.size(), kHeaderBytes));
  }
  return fail(next_index_, record_offset_,
              fmt::format("truncated: the object ends inside a TFRecord at byte offset {} ({} of "
                          "{} bytes)",
                          position_, framed_.size(), kHeaderBytes + data_length_ + kFooterBytes));
}

}  // namespace tandem::transform
