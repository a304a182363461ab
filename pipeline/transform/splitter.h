// Record splitters for SplitType None, Line, RecordIO and TFRecord. A splitter is fed an
// object's (decompressed) bytes in chunks of any size and returns each record as soon as it is
// complete, so it holds at most one incomplete record. Feeding an object byte by byte or in
// one chunk yields the same records.
//
//   None      the whole object is one record (an empty object has none). The splitter holds
//             it until finish(); `max_record_bytes` (the batcher's limit) bounds it. With
//             MaxPayloadInMB 0 the runner streams the object instead (see batcher.h).
//   Line      one record per line, split on "\n". The record's framed bytes keep the line
//             break ("\n" or "\r\n") so a MultiRecord batch is a slice of the object; the
//             content excludes it. A last line without a line break is a record. Empty lines
//             ("\n" or "\r\n" alone) are skipped: they are not records and get no index.
//   RecordIO  MXNet RecordIO: uint32 magic 0xCED7230A, uint32 lrecord (upper 3 bits cflag:
//             0 whole, 1 start, 2 middle, 3 end; lower 29 bits length), data padded to 4
//             bytes, all little-endian. A multi-part record is one logical record.
//   TFRecord  uint64 length, uint32 masked CRC-32C of the length, data, uint32 masked CRC-32C
//             of the data, little-endian; both CRCs are checked.
//
// `max_record_bytes` (0: none) bounds a record while it is read: the line with its break
// (Line), the data length (RecordIO, TFRecord, checked from the headers before any data is
// buffered), the object (None). Errors name the record index and its byte offset; after an
// error the splitter returns that error to every call. `limit_reason`, when given, is added to
// the error for a record over the limit (why the limit is what it is, what avoids it).
//
// PassThroughSplitter, for a request that streams the whole object (MaxPayloadInMB 0), finds
// Line and None records without holding any: see below.
//
// Ownership: a splitter owns the incomplete record it buffers and hands each complete Record
// to the caller by value.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/options.h"
#include "pipeline/transform/record.h"
#include "pipeline/transform/result.h"

namespace tandem::transform {

class RecordSplitter {
 public:
  virtual ~RecordSplitter() = default;
  // The records `chunk` completes (zero or more), in order.
  virtual Result<std::vector<Record>> feed(std::string_view chunk) = 0;
  // The object has ended: its last record, or an error if it ends inside a record.
  virtual Result<std::vector<Record>> finish() = 0;
};

std::unique_ptr<RecordSplitter> make_splitter(SplitType type, std::uint64_t max_record_bytes,
                                              std::string limit_reason = {});

// The message for a record over the payload limit, shared with the batcher:
// "record 3 (byte offset 120): 7340032 bytes, larger than the limit of 6291456 bytes (6 MiB)";
// without a size when it is not known yet ("larger than the limit ..."); "; <reason>" after it
// when a reason is given.
std::string record_too_large(std::uint64_t index, std::uint64_t offset,
                             std::optional<std::uint64_t> size, std::uint64_t limit,
                             std::string_view reason = {});

// The records of a Line or None object found as its bytes go by, none of them held: for a
// request that streams the whole object (MaxPayloadInMB 0, see batcher.h) when no record is
// needed whole (no InputFilter, no JoinSource Input). What it passes on is what such a request
// carries, the records framed as in the object, in order (Line: the empty lines left out, as
// LineSplitter skips them), so a record of any size costs no more than the chunk it came in.
// Its record count and first offset agree with LineSplitter's and WholeObjectSplitter's.
class PassThroughSplitter {
 public:
  static bool supports(SplitType type) {
    return type == SplitType::line || type == SplitType::none;
  }

  // `type`: Line or None (supports()).
  explicit PassThroughSplitter(SplitType type) : type_(type) {}

  // Appends to `out` the bytes of `chunk` that belong to records.
  void feed(std::string_view chunk, std::string& out);
  // The object has ended: a last line held back (a lone "\r") is passed on.
  void finish(std::string& out);

  std::uint64_t records() const { return records_; }            // begun so far
  std::uint64_t first_offset() const { return first_offset_; }  // of record 0, once begun

 private:
  void begin_record(std::uint64_t offset);

  SplitType type_;
  std::uint64_t position_ = 0;  // bytes of the object consumed so far
  std::uint64_t records_ = 0;
  std::uint64_t first_offset_ = 0;
  bool in_line_ = false;  // Line: inside a record's line
  // Line: a "\r" that starts a line, held until the next byte says whether the line is empty.
  bool held_cr_ = false;
};

// Shared by the splitters: the first error is kept and returned again.
class SplitterBase : public RecordSplitter {
 public:
  void set_limit_reason(std::string reason) { limit_reason_ = std::move(reason); }

 protected:
  explicit SplitterBase(std::uint64_t max_record_bytes) : max_record_bytes_(max_record_bytes) {}
  bool over_limit(std::uint64_t size) const {
    return max_record_bytes_ != 0 && size > max_record_bytes_;
  }
  Error fail(std::uint64_t index, std::uint64_t offset, std::string_view what);
  Error fail_too_large(std::uint64_t index, std::uint64_t offset,
                       std::optional<std::uint64_t> size);

  std::uint64_t max_record_bytes_;
  std::string limit_reason_;
  std::uint64_t next_index_ = 0;
  std::uint64_t position_ = 0;  // bytes of the object consumed so far
  std::optional<Error> error_;
};

class WholeObjectSplitter final : public SplitterBase {
 public:
  explicit WholeObjectSplitter(std::uint64_t max_record_bytes) : SplitterBase(max_record_bytes) {}
  Result<std::vector<Record>> feed(std::string_view chunk) override;
  Result<std::vector<Record>> finish() override;

 private:
  std::string object_;
};

class LineSplitter final : public SplitterBase {
 public:
  explicit LineSplitter(std::uint64_t max_record_bytes) : SplitterBase(max_record_bytes) {}
  Result<std::vector<Record>> feed(std::string_view chunk) override;
  Result<std::vector<Record>> finish() override;

 private:
  void emit(std::vector<Record>& out);
  std::string line_;  // the incomplete line, from line_offset_
  std::uint64_t line_offset_ = 0;
};

}  // namespace tandem::transform
