#include "pipeline/chain/shm_transport.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "pipeline/chain/async_semaphore.h"
#include "tandem/proto/shm_segment.h"

namespace tandem::chain {

namespace asio = boost::asio;
namespace shm = proto::shm;
using Kind = TransportFailure::Kind;

namespace {

StageOutcome failed(Kind kind, std::string message) {
  return TransportFailure{kind, std::move(message)};
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

// One launch's channel. Owned jointly by the transport (while it is current), the collecting
// coroutine (until the stage's pipe closes) and every call waiting on it.
class ShmStageTransport::Channel : public std::enable_shared_from_this<Channel> {
 public:
  // A call waiting for its slot's answer: the collector fills `completion` and cancels
  // `timer`; a timer that expires on its own means the deadline passed.
  struct Waiter {
    Waiter(asio::any_io_executor ex, std::chrono::steady_clock::time_point deadline)
        : timer(ex, deadline) {}
    asio::steady_timer timer;
    std::optional<shm::Completion> completion;
  };

  Channel(asio::any_io_executor executor, shm::Segment segment, shm::UniqueFd submit,
          int completions)
      : segment_(std::move(segment)),
        submit_(std::move(submit)),
        completions_(executor, completions),
        slots_(executor, segment_.ring().slot_count()),
        uses_(segment_.ring().slot_count()) {
    for (std::uint32_t i = segment_.ring().slot_count(); i-- > 0;) free_.push_back(i);
  }

  void start() { asio::co_spawn(completions_.get_executor(), collect(), asio::detached); }

  // Fails every waiting call and stops collecting: the transport moved to a new channel.
  void retire(const std::string& why) {
    close(why);
    boost::system::error_code ignored;
    completions_.close(ignored);
  }

  asio::awaitable<StageOutcome> call(const StageRequest& request) {
    auto self = shared_from_this();  // the channel outlives this call, whatever happens
    if (closed_) co_return failed(Kind::connect, not_sent());
    const auto stage_pid = std::atomic_ref<std::uint32_t>(segment_.ring().control().stage_pid)
                               .load(std::memory_order_acquire);
    if (stage_pid == 0) {
      co_return failed(Kind::connect,
                       "the stage has not attached to its shared-memory segment (transport: shm "
                       "needs a stage built on the stage SDK, or one that implements docs/shm.md)");
    }
    if (!co_await slots_.acquire(request.deadline)) {
      co_return failed(Kind::timeout,
                       "timed out waiting for a free shared-memory slot (every "
                       "slot holds a request the stage has not answered)");
    }
    if (closed_) {
      slots_.release();
      co_return failed(Kind::connect, not_sent());
    }
    const std::uint32_t slot = free_.back();
    free_.pop_back();
    const std::uint64_t sequence = ++sequence_;
    const auto& h = request.headers;
    auto as_view = [](const std::optional<std::string>& s) {
      return s ? std::optional<std::string_view>(*s) : std::nullopt;
    };
    if (auto too_large =
            segment_.ring().submit(slot, sequence,
                                   shm::RequestView{request.body, as_view(h.content_type),
                                                    as_view(h.accept), as_view(h.custom_attributes),
                                                    h.inference_id, as_view(h.traceparent)})) {
      release(slot);
      co_return failed(Kind::request_too_large, *too_large);
    }
    // A full pipe already holds a wake-up (EAGAIN); a stage that is gone (EPIPE) is
    // reported by the completion pipe, which fails this call with the others.
    const char wake = 1;
    if (segment_.ring().needs_wake(shm::Ring::Side::stage) &&
        ::write(submit_.get(), &wake, 1) < 0 && errno != EAGAIN && errno != EPIPE) {
      // The slot was published; only the stage may hand it back now.
      uses_[slot] = {sequence, nullptr, true};
      co_return failed(Kind::protocol,
                       std::string("cannot wake the stage: ") + std::strerror(errno));
    }
    auto waiter = std::make_shared<Waiter>(completions_.get_executor(), request.deadline);
    uses_[slot] = {sequence, waiter, true};
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (waiter->completion) co_return outcome_of(std::move(*waiter->completion));
    // The slot stays busy until the stage answers (it may still write into it), or forever
    // if it never does: the collector frees it then. Only this request is failed.
    if (uses_[slot].waiter == waiter) uses_[slot].waiter = nullptr;
    if (closed_) co_return failed(Kind::closed, closed_reason_);
    co_return failed(Kind::timeout, "timed out waiting for the response");
  }

 private:
  // A request that reaches a closed channel (the stage died before tandem has seen it exit)
  // was never handed to the stage: said so, apart from the requests the stage held.
  std::string not_sent() const { return closed_reason_ + "; this request was not sent to it"; }

  struct Use {
    std::uint64_t sequence = 0;
    std::shared_ptr<Waiter> waiter;  // null once its call gave up
    bool busy = false;
  };

  static StageOutcome outcome_of(shm::Completion done) {
    switch (done.kind) {
      case shm::Completion::Kind::response: {
        StageResponse response;
        response.status = done.response.status;
        response.body = std::move(done.response.body);
        response.content_type = done.response.content_type.value_or("");
        response.custom_attributes = std::move(done.response.custom_attributes);
        return response;
      }
      case shm::Completion::Kind::too_large:
        return failed(Kind::too_large, "response body of " + std::to_string(done.response_size) +
                                           " bytes over the shared-memory slot");
      case shm::Completion::Kind::malformed:
        break;
    }
    return failed(Kind::protocol, "broken shared-memory answer: " + done.error);
  }

  void release(std::uint32_t slot) {
    uses_[slot] = {};
    free_.push_back(slot);
    slots_.release();
  }

  void close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    closed_reason_ = why;
    for (auto& use : uses_) {
      if (use.waiter) use.waiter->timer.cancel();
      use.waiter = nullptr;
    }
  }

  // Hands every completed slot to its waiting call; returns how many there were.
  std::size_t deliver() {
    std::size_t delivered = 0;
    for (std::uint32_t slot = 0; slot < uses_.size(); ++slot) {
      auto& use = uses_[slot];
      if (!use.busy) continue;
      auto done = segment_.ring().collect(slot, use.sequence);
      if (!done) continue;
      ++delivered;
      auto waiter = std::move(use.waiter);
      release(slot);
      if (waiter) {
        waiter->completion = std::move(*done);
        waiter->timer.cancel();
      }
    }
    return delivered;
  }

  // Collects answers until the stage's end of the pipe closes (it died or was stopped).
  // While answers keep coming, it only yields to the event loop between scans, and the
  // stage writes no wake-ups; it sleeps on the pipe once a scan after saying so finds none.
  asio::awaitable<void> collect() {
    auto self = shared_from_this();
    auto& ring = segment_.ring();
    std::array<char, 256> drain;
    for (;;) {
      if (deliver() > 0) {
        co_await asio::post(completions_.get_executor(), asio::use_awaitable);
        if (closed_) break;
        continue;
      }
      ring.announce_sleep(shm::Ring::Side::tandem);
      if (deliver() > 0) {
        ring.retract_sleep(shm::Ring::Side::tandem);
        continue;
      }
      boost::system::error_code ec;
      co_await completions_.async_wait(asio::posix::stream_descriptor::wait_read,
                                       asio::redirect_error(asio::use_awaitable, ec));
      ring.retract_sleep(shm::Ring::Side::tandem);
      if (ec) break;  // retired
      bool ended = false;
      for (;;) {
        const auto n = ::read(completions_.native_handle(), drain.data(), drain.size());
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        ended = n == 0 || errno != EAGAIN;
        break;
      }
      if (ended) {
        // The stage may have answered some requests before it went away: deliver those first.
        deliver();
        close("the stage exited before answering (its shared-memory channel closed)");
        break;
      }
    }
  }

  shm::Segment segment_;
  shm::UniqueFd submit_;
  asio::posix::stream_descriptor completions_;
  AsyncSemaphore slots_;
  std::vector<Use> uses_;
  std::vector<std::uint32_t> free_;
  std::uint64_t sequence_ = 0;
  bool closed_ = false;
  std::string closed_reason_;
};

ShmStageTransport::ShmStageTransport(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(options) {}

ShmStageTransport::~ShmStageTransport() {
  if (channel_) channel_->retire("tandem is stopping");
}

StageChannel ShmStageTransport::prepare_launch() {
  auto segment = shm::Segment::create(options_.geometry);
  // Two pipes, so that each side reads end-of-file when the other is gone. tandem's ends
  // never block its event loop.
  int submit_fds[2];
  if (pipe2(submit_fds, O_CLOEXEC) != 0) fail("pipe");
  shm::UniqueFd stage_submit = shm::above_stdio(submit_fds[0]);
  shm::UniqueFd submit = shm::above_stdio(submit_fds[1]);
  if (!stage_submit || !submit || ::fcntl(submit.get(), F_SETFL, O_NONBLOCK) != 0)
    fail("cannot set up the submit pipe");
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) fail("pipe");
  shm::UniqueFd read_end = shm::above_stdio(pipe_fds[0]);
  shm::UniqueFd write_end = shm::above_stdio(pipe_fds[1]);

  StageChannel handoff;
  handoff.env = {{shm::env_segment_fd, std::to_string(segment.fd())},
                 {shm::env_submit_fd, std::to_string(stage_submit.get())},
                 {shm::env_complete_fd, std::to_string(write_end.get())}};
  // tandem keeps the mapping but no descriptor of the segment: once the stage has started,
  // only the two processes' mappings hold it.
  handoff.fds.push_back(segment.release_fd());
  handoff.fds.push_back(std::move(stage_submit));
  handoff.fds.push_back(std::move(write_end));

  auto channel = std::make_shared<Channel>(executor_, std::move(segment), std::move(submit),
                                           read_end.release());
  channel->start();
  if (channel_) channel_->retire("the stage was restarted before answering");
  channel_ = std::move(channel);
  return handoff;
}

asio::awaitable<StageOutcome> ShmStageTransport::call(StageRequest request) {
  if (!channel_) co_return failed(Kind::connect, "the stage has not been started");
  auto channel = channel_;
  co_return co_await channel->call(request);
}

}  // namespace tandem::chain
