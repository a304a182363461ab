#include "pipeline/batch/chunk_stream.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using tandem::batch::ChunkStream;

TEST_CASE("ChunkStream: the reader learns that the request is over and stops pushing",
          "[chunk_stream]") {
  boost::asio::io_context io;
  auto stream = std::make_shared<ChunkStream>(io.get_executor());
  const std::atomic<bool> stopping{false};
  CHECK_FALSE(stream->over());
  CHECK(stream->push("piece", stopping));
  stream->finished();  // the stage answered (a 413, say) before the body's end
  CHECK(stream->over());
  CHECK_FALSE(stream->push("more", stopping));
}

TEST_CASE("ChunkStream: a stopping job refuses pieces without the request being over",
          "[chunk_stream]") {
  boost::asio::io_context io;
  auto stream = std::make_shared<ChunkStream>(io.get_executor());
  const std::atomic<bool> stopping{true};
  CHECK_FALSE(stream->push("piece", stopping));
  CHECK_FALSE(stream->over());
}
