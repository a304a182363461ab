#include "pipeline/transform/gzip.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <new>
#include <utility>

namespace tandem::transform {
namespace {

// 15 bits of window, +32: detect the gzip header (and accept zlib's) automatically.
constexpr int kWindowBitsAutoHeader = 15 + 32;

}  // namespace

struct GzipInflater::Stream {
  z_stream z{};
  bool initialised = false;
  std::array<unsigned char, kOutputPieceBytes> out{};
};

GzipInflater::GzipInflater() : stream_(std::make_unique<Stream>()) {
  if (inflateInit2(&stream_->z, kWindowBitsAutoHeader) == Z_OK) {
    stream_->initialised = true;
  } else {
    error_ = Error{"gzip: cannot initialise zlib (out of memory)"};
  }
}

GzipInflater::~GzipInflater() {
  if (stream_ && stream_->initialised) inflateEnd(&stream_->z);
}

GzipInflater::GzipInflater(GzipInflater&&) noexcept = default;

GzipInflater& GzipInflater::operator=(GzipInflater&& other) noexcept {
  if (this != &other) {
    if (stream_ && stream_->initialised) inflateEnd(&stream_->z);
    stream_ = std::move(other.stream_);
    compressed_offset_ = other.compressed_offset_;
    decompressed_total_ = other.decompressed_total_;
    inside_member_ = other.inside_member_;
    any_member_ = other.any_member_;
    error_ = std::move(other.error_);
  }
  return *this;
}

Status GzipInflater::fail(std::string message) {
  error_ = Error{std::move(message)};
  return *error_;
}

// Runs inflate() over as much of `input` as one member allows; consumed bytes are removed from
// the front of `input`. Sets `member_ended` when the member's trailer has been checked.
Status GzipInflater::inflate_some(std::string_view& input, const Sink& sink, bool& member_ended) {
  z_stream& z = stream_->z;
  // zlib counts in uInt; a chunk larger than that is taken in several rounds.
  const std::size_t take = std::min<std::size_t>(input.size(), UINT_MAX);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  z.avail_in = static_cast<uInt>(take);
  member_ended = false;
  int rc = Z_OK;
  while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0)) {
    z.next_out = stream_->out.data();
    z.avail_out = static_cast<uInt>(stream_->out.size());
    const uInt before = z.avail_in;
    rc = inflate(&z, Z_NO_FLUSH);
    compressed_offset_ += before - z.avail_in;
    if (before != z.avail_in) inside_member_ = true;
    const std::size_t produced = stream_->out.size() - z.avail_out;
    if (produced > 0) {
      decompressed_total_ += produced;
      Status sunk =
          sink(std::string_view(reinterpret_cast<const char*>(stream_->out.data()), produced));
      if (!sunk.ok()) {
        error_ = sunk.error();
        return sunk;
      }
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) rc = Z_OK;  // needs more input: not an error
    if (rc == Z_BUF_ERROR) break;
  }
  input.remove_prefix(take - z.avail_in);
  if (rc == Z_STREAM_END) {
    member_ended = true;
    return Status::success();
  }
  if (rc != Z_OK) {
    const char* reason = z.msg != nullptr ? z.msg : zError(rc);
    return fail(fmt::format("gzip: corrupt data at compressed byte offset {}: {}",
                            compressed_offset_, reason));
  }
  return Status::success();
}

Status GzipInflater::feed(std::string_view compressed, const Sink& sink) {
  if (error_) return *error_;
  while (!compressed.empty()) {
    bool member_ended = false;
    Status status = inflate_some(compressed, sink, member_ended);
    if (!status.ok()) return status;
    if (member_ended) {
      any_member_ = true;
      inside_member_ = false;
      // Another member may follow, now or in a later chunk.
      if (inflateReset(&stream_->z) != Z_OK) return fail("gzip: cannot reset zlib");
    }
  }
  return Status::success();
}

Status GzipInflater::finish() {
  if (error_) return *error_;
  if (inside_member_) {
    return fail(fmt::format(
        "gzip: truncated: the object ends inside a gzip member at compressed byte offset {}",
        compressed_offset_));
  }
  if (!any_member_) return fail("gzip: the object is empty, not gzip data");
  return Status::success();
}

}  // namespace tandem::transform
