// The splitters for the binary record formats, RecordIO and TFRecord (see splitter.h for the
// formats and the contract every splitter keeps). Each buffers only the record it is reading.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/transform/splitter.h"

namespace tandem::transform {

class RecordIOSplitter final : public SplitterBase {
 public:
  static constexpr std::uint32_t kMagic = 0xCED7230A;

  explicit RecordIOSplitter(std::uint64_t max_record_bytes) : SplitterBase(max_record_bytes) {}
  Result<std::vector<Record>> feed(std::string_view chunk) override;
  Result<std::vector<Record>> finish() override;

 private:
  Status start_part();  // the 8-byte part header is complete
  void finish_part(std::vector<Record>& out);

  std::string framed_;                  // the record read so far, every part as in the object
  std::optional<std::string> content_;  // the reassembled content of a multi-part record
  std::uint64_t record_offset_ = 0;
  std::uint64_t part_offset_ = 0;
  bool reading_header_ = true;
  std::size_t stage_read_ = 0;  // bytes of the current header or data read
  std::uint32_t part_flag_ = 0;
  std::uint32_t part_length_ = 0;
  std::uint32_t part_padded_ = 0;  // length rounded up to 4
};

class TFRecordSplitter final : public SplitterBase {
 public:
  explicit TFRecordSplitter(std::uint64_t max_record_bytes) : SplitterBase(max_record_bytes) {}
  Result<std::vector<Record>> feed(std::string_view chunk) override;
  Result<std::vector<Record>> finish() override;

 private:
  static constexpr std::size_t kHeaderBytes = 12;  // uint64 length, uint32 masked CRC
  static constexpr std::size_t kFooterBytes = 4;   // uint32 masked CRC of the data
  Status check_header();
  Status finish_record(std::vector<Record>& out);

  std::string framed_;
  std::uint64_t record_offset_ = 0;
  std::uint64_t data_length_ = 0;
  bool header_checked_ = false;
};

// Little-endian integers from the start of `bytes` (which must be long enough).
std::uint32_t read_le32(std::string_view bytes);
std::uint64_t read_le64(std::string_view bytes);

}  // namespace tandem::transform
