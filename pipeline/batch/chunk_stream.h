// The body of a request that streams a whole object to the first stage (MaxPayloadInMB 0):
// the reader thread pushes pieces as it reads them, the event loop sends each as an HTTP
// chunk. At most kCapacity pieces wait, so the object is never held whole; the reader waits
// for room, and stops when the request is over (the stage answered early or failed) or the
// job is stopping.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pipeline/chain/transport.h"

namespace tandem::batch {

class ChunkStream final : public chain::BodySource,
                          public std::enable_shared_from_this<ChunkStream> {
 public:
  static constexpr std::size_t kCapacity = 4;

  explicit ChunkStream(boost::asio::any_io_executor executor);

  // Reader thread. Blocks while kCapacity pieces wait. False when the request is over or
  // `stopping` is set: the reader should abandon the object.
  bool push(std::string piece, const std::atomic<bool>& stopping);
  // Any thread, after setting the `stopping` that push() was given: a push waiting for room
  // gives up now.
  void interrupt();
  // Reader thread: the body is complete, or (with `failure`) cannot be completed.
  void close(std::optional<std::string> failure);

  // Event loop.
  boost::asio::awaitable<std::optional<std::string>> next() override;
  std::optional<std::string> failure() const override;
  // The request is over (answered or failed): pieces are no longer wanted.
  void finished();
  // Any thread: finished() was called; the reader should stop reading the object.
  bool over() const;

 private:
  void wake_consumer(std::unique_lock<std::mutex>& lock);

  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer ready_;  // cancelled when a piece arrives or the body ends
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::deque<std::string> pieces_;
  bool closed_ = false;
  bool over_ = false;
  bool waiting_ = false;  // next() is waiting on ready_
  std::optional<std::string> failure_;
};

}  // namespace tandem::batch
