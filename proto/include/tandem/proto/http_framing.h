// The bound on the framing of every HTTP message tandem reads from a peer it does not trust: a
// client on the front door, a stage's answer, a stage's /ping answer.
//
// Beast's parser bounds a message's header (`header_limit`) and its body (`body_limit`), but
// not a chunk header with its extensions nor the trailer fields after the last chunk: for
// those it asks for more bytes until the line ends, and the read buffer grows without end (a
// client sending "3;" and endless bytes held 1 GB in 5 s). And Beast's field container stores
// a name or value length in 16 bits: a longer trailer field throws std::length_error from deep
// inside an asynchronous read, where nothing can catch it for the connection.
//
// Every read of such a message therefore uses a buffer whose capacity is capped below that 16-bit
// bound: the parser never holds more unparsed bytes than this at once, so no field can reach the
// size that throws, and an over-long chunk header or trailer ends that one message with
// http::error::buffer_overflow. The body is not affected: the parser moves body bytes out of
// the buffer as they arrive.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <string>

namespace tandem::proto::http_framing {

// The most framing bytes (start line and headers, one chunk header with its extensions, the
// trailer) held at once: 64 KiB less one byte, below Beast's 65,535-byte field limit.
inline constexpr std::size_t kReadBufferLimit = 64 * 1024 - 1;

// A read buffer for one connection, capped at kReadBufferLimit.
inline boost::beast::flat_buffer make_read_buffer() {
  return boost::beast::flat_buffer(kReadBufferLimit);
}

// True when `ec` is the capped buffer's refusal: framing beyond kReadBufferLimit.
inline bool is_framing_overflow(const boost::beast::error_code& ec) {
  return ec == boost::beast::http::error::buffer_overflow;
}

// What to say of it, for a client's 400 or a stage's 424.
inline std::string framing_overflow_message() {
  return "a chunk header with its extensions, or the trailer fields, over 65535 bytes";
}

}  // namespace tandem::proto::http_framing
