// One record of an input object, as a splitter finds it. A record owns its bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/transform/options.h"

namespace tandem::transform {

struct Record {
  std::uint64_t index = 0;   // 0-based, counting the records of one object
  std::uint64_t offset = 0;  // of the record's first byte in the (decompressed) object

  // The bytes exactly as they appear in the object: a Line record with its line break, a
  // RecordIO record with its headers and padding (every part of a multi-part record), a
  // TFRecord record with its length and CRCs. MultiRecord batches are made of these.
  std::string framed;

  // Where the content lies inside `framed`: a line without its line break, the data of a
  // RecordIO part or TFRecord frame. A multi-part RecordIO record has its content in
  // `reassembled` instead (the parts' data with the split-out magic numbers put back).
  std::size_t content_begin = 0;
  std::size_t content_size = 0;
  std::optional<std::string> reassembled;

  // RecordIO and TFRecord: SingleRecord sends the content without framing or padding.
  bool single_record_sends_content = false;

  // Set by an InputFilter when JoinSource is Input: the content before filtering, which is
  // what the output is joined with.
  std::optional<std::string> unfiltered_content;

  std::string_view content() const {
    if (reassembled) return *reassembled;
    return std::string_view(framed).substr(content_begin, content_size);
  }
  // The line break after a Line record's content ("\n", "\r\n", or "" for a last line
  // without one); what follows the content in `framed` for other split types.
  std::string_view line_break() const {
    return std::string_view(framed).substr(content_begin + content_size);
  }
  // What one request carries for this record under `strategy`.
  std::string_view bytes_to_send(BatchStrategy strategy) const {
    if (strategy == BatchStrategy::single_record && single_record_sends_content) {
      return content();
    }
    return framed;
  }
};

}  // namespace tandem::transform
