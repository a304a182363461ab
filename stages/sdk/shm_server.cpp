#include "stages/sdk/shm_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tandem::stage {

namespace shm = proto::shm;

namespace {

// An inherited descriptor: checked to be open, and made close-on-exec so that programs the
// handler starts do not hold the channel (the completion pipe would then outlive the stage).
shm::UniqueFd adopt(int fd, const char* variable) {
  if (fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
    throw std::runtime_error(std::string(variable) + " names no open descriptor (" +
                             std::to_string(fd) + ")");
  return shm::UniqueFd(fd);
}

Response call_handler(const Handler& handler, const Request& request) {
  try {
    return handler(request);
  } catch (const HttpError& error) {
    return Response{.status = error.status(), .body = error.what(), .content_type = "text/plain"};
  } catch (const std::exception& error) {
    return Response{.status = 500, .body = error.what(), .content_type = "text/plain"};
  } catch (...) {
    return Response{.status = 500,
                    .body = "stage handler threw a non-standard exception",
                    .content_type = "text/plain"};
  }
}

std::optional<std::string_view> view(const std::optional<std::string>& s) {
  return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

}  // namespace

ShmServer::ShmServer(const ShmChannel& channel, const Handler& handler)
    : segment_(shm::Segment::map(adopt(channel.segment, shm::env_segment_fd))),
      submit_(adopt(channel.submit, shm::env_submit_fd)),
      complete_(adopt(channel.complete, shm::env_complete_fd)),
      stop_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      kick_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      handler_(handler),
      pid_(static_cast<std::uint32_t>(getpid())) {
  // Threads drain wake-ups without blocking and block in epoll instead; a full completion
  // pipe already holds a wake-up for tandem: never block on it.
  for (const auto& [fd, variable] : {std::pair{submit_.get(), shm::env_submit_fd},
                                     std::pair{complete_.get(), shm::env_complete_fd}}) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
      throw std::runtime_error(std::string(variable) + " is not a usable pipe");
  }
  if (!stop_ || !kick_) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

ShmServer::~ShmServer() {
  stop();
}

void ShmServer::start(unsigned threads) {
  // tandem may submit from here on: the threads look at every slot before they first sleep.
  std::atomic_ref<std::uint32_t>(segment_.ring().control().stage_pid)
      .store(static_cast<std::uint32_t>(getpid()), std::memory_order_release);
  for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { serve(); });
}

void ShmServer::stop() {
  if (!stopping_.exchange(true)) wake_self();
  std::lock_guard lock(join_mutex_);
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

void ShmServer::wake_self() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_.get(), &one, sizeof one);
}

std::optional<std::uint32_t> ShmServer::claim_one() {
  auto& ring = segment_.ring();
  const std::uint32_t count = ring.slot_count();
  // Threads start where the last claim ended, so that slots are taken in turn.
  const std::uint32_t first = next_slot_.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t slot = (first + i) % count;
    if (ring.take(slot, pid_)) {
      next_slot_.store((slot + 1) % count, std::memory_order_relaxed);
      return slot;
    }
  }
  return std::nullopt;
}

bool ShmServer::any_submitted() {
  auto& ring = segment_.ring();
  for (std::uint32_t slot = 0; slot < ring.slot_count(); ++slot)
    if (ring.state(slot) == shm::SlotState::submitted) return true;
  return false;
}

// Each thread has its own epoll: the submit pipe and the kick eventfd are registered
// exclusively (one waiter woken per wake-up), the stop eventfd for every thread.
shm::UniqueFd ShmServer::open_epoll() const {
  shm::UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  bool usable = static_cast<bool>(epoll);
  const std::uint32_t one_waiter = EPOLLIN | EPOLLEXCLUSIVE, every_waiter = EPOLLIN;
  for (const auto& [fd, flags] :
       {std::pair{submit_.get(), one_waiter}, std::pair{kick_.get(), one_waiter},
        std::pair{stop_.get(), every_waiter}}) {
    epoll_event event{};
    event.events = flags;
    event.data.fd = fd;
    usable = usable && epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &event) == 0;
  }
  if (!usable) return shm::UniqueFd();
  return epoll;
}

// Says this side sleeps, then looks once more (the handshake in shm_ring.h: tandem writes a
// wake-up only while some thread sleeps) before waiting on `epoll`.
ShmServer::Wake ShmServer::sleep_until_woken(int epoll) {
  auto& ring = segment_.ring();
  ring.announce_sleep(shm::Ring::Side::stage);
  bool woken = false;
  if (!any_submitted()) {
    epoll_event events[3];
    const int ready = epoll_wait(epoll, events, 3, -1);
    if (ready < 0 && errno != EINTR) {
      std::fprintf(stderr,
                   "stage: waiting for shared-memory requests failed (%s); no longer "
                   "serving them\n",
                   std::strerror(errno));
      ring.retract_sleep(shm::Ring::Side::stage);
      return Wake::failed;
    }
    woken = ready > 0;
  }
  ring.retract_sleep(shm::Ring::Side::stage);
  return woken ? Wake::woken : Wake::not_needed;
}

// Empties the submit pipe and the kick counter; false when tandem closed the channel.
bool ShmServer::drain_wake_ups() {
  char drain[256];
  for (;;) {
    const auto n = ::read(submit_.get(), drain, sizeof drain);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    if (n == 0) {
      std::fprintf(stderr,
                   "stage: tandem closed the shared-memory channel; no longer serving it\n");
      return false;
    }
    break;  // EAGAIN: drained
  }
  std::uint64_t kicks;
  [[maybe_unused]] auto n = ::read(kick_.get(), &kicks, sizeof kicks);
  return true;
}

void ShmServer::serve() {
  auto& ring = segment_.ring();
  const shm::UniqueFd epoll = open_epoll();
  if (!epoll) {
    std::fprintf(stderr, "stage: cannot wait for shared-memory requests (%s); not serving them\n",
                 std::strerror(errno));
    return;
  }
  while (!stopping_) {
    if (const auto slot = claim_one()) {
      // More requests are waiting than this thread can serve now: wake a peer for them.
      if (ring.needs_wake(shm::Ring::Side::stage) && any_submitted()) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(kick_.get(), &one, sizeof one);
      }
      serve_slot(*slot);
      continue;
    }
    const Wake wake = sleep_until_woken(epoll.get());
    if (wake == Wake::failed) return;
    if (wake == Wake::woken && !drain_wake_ups()) return;
  }
}

void ShmServer::serve_slot(std::uint32_t slot) {
  auto& ring = segment_.ring();
  Response response;
  try {
    auto in = ring.read_request(slot);
    Request request{std::move(in.body),         in.content_type.value_or(""),
                    in.accept.value_or(""),     in.custom_attributes.value_or(""),
                    std::move(in.inference_id), in.traceparent.value_or("")};
    response = call_handler(handler_, request);
  } catch (const std::exception& error) {
    response = Response{.status = 500, .body = error.what(), .content_type = "text/plain"};
  }
  if (response.status >= 500) {
    std::fprintf(stderr, "stage: shm invocation answered %d: %.*s\n", response.status,
                 static_cast<int>(std::min<std::size_t>(response.body.size(), 512)),
                 response.body.data());
  }
  ring.complete(slot, shm::ResponseView{.status = response.status,
                                        .body = response.body,
                                        .content_type = response.content_type.empty()
                                                            ? std::nullopt
                                                            : std::optional<std::string_view>(
                                                                  response.content_type),
                                        .custom_attributes = view(response.custom_attributes)});
  if (ring.needs_wake(shm::Ring::Side::tandem)) {
    const char byte = 1;
    [[maybe_unused]] auto n = ::write(complete_.get(), &byte, 1);
  }
}

std::uint32_t fail_taken(const ShmChannel& channel, std::uint32_t pid, int status,
                         std::string_view message) {
  const int copy = fcntl(channel.segment, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) {
    throw std::runtime_error(std::string(shm::env_segment_fd) + " names no open descriptor (" +
                             std::to_string(channel.segment) + ")");
  }
  auto segment = shm::Segment::map(shm::UniqueFd(copy));
  auto& ring = segment.ring();
  const auto completed = ring.fail_taken(
      pid, shm::ResponseView{.status = status, .body = message, .content_type = "text/plain"});
  // The parent shares the pipe with its workers, who made it non-blocking; it may not have
  // started one yet. A full pipe already holds a wake-up for tandem: never block on it.
  pollfd writable{.fd = channel.complete, .events = POLLOUT, .revents = 0};
  if (completed != 0 && ring.needs_wake(shm::Ring::Side::tandem) && poll(&writable, 1, 0) == 1 &&
      (writable.revents & POLLOUT) != 0) {
    const char byte = 1;
    [[maybe_unused]] auto n = ::write(channel.complete, &byte, 1);
  }
  return completed;
}

}  // namespace tandem::stage
