#include "pipeline/server/session.h"

#include <fmt/format.h>

namespace tandem::server {

using proto::Error;
using proto::http_session::ReadFailure;

namespace {

// What arrived of a body the client stopped sending (it closed its side of the connection).
std::string incomplete_body(const ReadProgress& progress) {
  if (progress.content_length) {
    return fmt::format("the body ended after {} of its {} bytes", progress.body_received,
                       *progress.content_length);
  }
  return fmt::format("the chunked body ended after {} bytes, before its last chunk",
                     progress.body_received);
}

}  // namespace

std::optional<Error> read_error_refusal(const boost::beast::error_code& error,
                                        const ReadProgress& progress, const SessionLimits& limits) {
  switch (proto::http_session::sort_read_error(error, progress.header_done)) {
    case ReadFailure::framing_too_large:
      return Error::validation("malformed HTTP request: " +
                               proto::http_framing::framing_overflow_message());
    case ReadFailure::body_too_large:
      return Error::payload_too_large(fmt::format(
          "request body is larger than max_payload_mb ({:g} MiB, {} bytes)",
          static_cast<double>(limits.body_bytes) / (1024.0 * 1024.0), limits.body_bytes));
    case ReadFailure::header_too_large:
      return Error::validation(
          fmt::format("request headers are larger than {} KiB", limits.header_bytes / 1024));
    case ReadFailure::body_cut_short:
      return Error::validation("malformed HTTP request: " + incomplete_body(progress));
    case ReadFailure::malformed:
    case ReadFailure::stream_failed:
      // Worth an answer only once the client sent something: else it never began a request.
      if (!progress.got_some) return std::nullopt;
      return Error::validation("malformed HTTP request: " + error.message());
    case ReadFailure::peer_left:
    case ReadFailure::timed_out:
      break;
  }
  return std::nullopt;
}

template class Session<boost::beast::tcp_stream>;

}  // namespace tandem::server
