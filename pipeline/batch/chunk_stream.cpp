#include "pipeline/batch/chunk_stream.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tandem::batch {

namespace asio = boost::asio;

ChunkStream::ChunkStream(asio::any_io_executor executor)
    : executor_(executor), ready_(executor, asio::steady_timer::time_point::max()) {}

void ChunkStream::wake_consumer(std::unique_lock<std::mutex>& lock) {
  const bool wake = waiting_;
  waiting_ = false;
  lock.unlock();
  if (wake) asio::post(executor_, [self = shared_from_this()] { self->ready_.cancel(); });
}

bool ChunkStream::push(std::string piece, const std::atomic<bool>& stopping) {
  std::unique_lock lock(mutex_);
  room_.wait(lock, [&] { return pieces_.size() < kCapacity || over_ || stopping; });
  if (over_ || stopping) return false;
  pieces_.push_back(std::move(piece));
  wake_consumer(lock);
  return true;
}

void ChunkStream::interrupt() {
  // Taken and released so that a push between its check of `stopping` and its wait is not
  // missed: it is either before the check (and sees it) or already waiting (and is woken).
  { std::lock_guard lock(mutex_); }
  room_.notify_all();
}

void ChunkStream::close(std::optional<std::string> failure) {
  std::unique_lock lock(mutex_);
  closed_ = true;
  failure_ = std::move(failure);
  wake_consumer(lock);
}

asio::awaitable<std::optional<std::string>> ChunkStream::next() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (!pieces_.empty()) {
        std::string piece = std::move(pieces_.front());
        pieces_.pop_front();
        room_.notify_one();
        co_return piece;
      }
      if (closed_) co_return std::nullopt;
      waiting_ = true;
    }
    // The producer's wake-up is posted to this loop, so it runs only after this wait has
    // started: none is lost.
    ready_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await ready_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

std::optional<std::string> ChunkStream::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

bool ChunkStream::over() const {
  std::lock_guard lock(mutex_);
  return over_;
}

void ChunkStream::finished() {
  std::lock_guard lock(mutex_);
  over_ = true;
  pieces_.clear();
  room_.notify_all();
}

}  // namespace tandem::batch
