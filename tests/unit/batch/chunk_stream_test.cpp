#include "pipeline/batch/chunk_stream.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

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

TEST_CASE("ChunkStream: a push waiting for room gives up when the job stops", "[chunk_stream]") {
  boost::asio::io_context io;
  auto stream = std::make_shared<ChunkStream>(io.get_executor());
  std::atomic<bool> stopping{false};
  for (std::size_t i = 0; i < ChunkStream::kCapacity; ++i) REQUIRE(stream->push("p", stopping));
  std::promise<bool> pushed;
  std::thread reader([&] { pushed.set_value(stream->push("one too many", stopping)); });
  auto result = pushed.get_future();
  // Not a wait for readiness: the test passes however the two threads interleave; the pause
  // only makes it likely that the push is already waiting, the case an interrupt must wake.
  CHECK(result.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  stopping = true;
  stream->interrupt();
  const bool woken = result.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  if (!woken) stream->finished();  // lets the reader go, so the failure is reported
  reader.join();
  REQUIRE(woken);
  CHECK_FALSE(result.get());
}
