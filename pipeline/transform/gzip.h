// Streaming gzip decompression for CompressionType Gzip: the runner feeds an object's bytes in
// chunks as they arrive and gets the decompressed bytes in pieces of at most kOutputPieceBytes,
// so neither the compressed nor the decompressed object is ever held whole (a small object
// that inflates to gigabytes costs no more memory than a large one).
//
// Concatenated gzip members (`cat a.gz b.gz`, pigz, multi-part uploads) inflate to the
// concatenation of their contents, as gzip(1) does. Anything after a member that is not
// another member is an error, as is data that ends inside a member. Errors name the offset in
// the compressed object where zlib stopped.
//
// Ownership: a GzipInflater owns its zlib stream (freed on destruction); it is movable, not
// copyable. Not thread-safe; one inflater per object.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "pipeline/transform/result.h"

namespace tandem::transform {

class GzipInflater {
 public:
  static constexpr std::size_t kOutputPieceBytes = 64 * 1024;

  // Receives decompressed bytes, valid only during the call. Returning an error (say, from a
  // record splitter) stops the inflater; feed() returns that error.
  using Sink = std::function<Status(std::string_view decompressed)>;

  GzipInflater();
  ~GzipInflater();
  GzipInflater(GzipInflater&&) noexcept;
  GzipInflater& operator=(GzipInflater&&) noexcept;
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  // Inflates `compressed` (any size, including empty), passing what it produces to `sink`.
  // After an error every later call returns the same error.
  Status feed(std::string_view compressed, const Sink& sink);
  // The object has ended: an error if it was empty or ended inside a member.
  Status finish();

  std::uint64_t compressed_bytes_read() const { return compressed_offset_; }
  std::uint64_t decompressed_bytes_written() const { return decompressed_total_; }

 private:
  struct Stream;
  Status fail(std::string message);
  Status inflate_some(std::string_view& input, const Sink& sink, bool& member_ended);

  std::unique_ptr<Stream> stream_;  // zlib's state points back at the z_stream: keep it in place
  std::uint64_t compressed_offset_ = 0;
  std::uint64_t decompressed_total_ = 0;
  bool inside_member_ = false;  // some of the current member has been read
  bool any_member_ = false;
  std::optional<Error> error_;
};

}  // namespace tandem::transform
