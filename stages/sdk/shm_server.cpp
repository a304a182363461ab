#include "stages/sdk/shm_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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
      handler_(handler) {
  // A full pipe already holds a wake-up for tandem: never block on it.
  const int flags = fcntl(complete_.get(), F_GETFL);
  if (flags < 0 || fcntl(complete_.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    throw std::runtime_error(std::string(shm::env_complete_fd) + " is not a usable pipe");
}

ShmServer::~ShmServer() {
  stop();
}

void ShmServer::start(std::function<void(std::function<void()>)> run) {
  run_ = std::move(run);
  dispatcher_ = std::thread([this] { dispatch(); });
  std::atomic_ref<std::uint32_t>(segment_.ring().control().stage_pid)
      .store(static_cast<std::uint32_t>(getpid()), std::memory_order_release);
}

void ShmServer::stop() {
  if (!stopping_.exchange(true)) wake_self();
  std::lock_guard lock(join_mutex_);
  if (dispatcher_.joinable()) dispatcher_.join();
}

void ShmServer::wake_self() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(submit_.get(), &one, sizeof one);
}

void ShmServer::dispatch() {
  auto& ring = segment_.ring();
  while (!stopping_) {
    std::uint64_t count = 0;
    const auto n = ::read(submit_.get(), &count, sizeof count);
    if (n < 0 && errno == EINTR) continue;
    if (n != sizeof count) {
      std::fprintf(stderr,
                   "stage: the shared-memory wake-up descriptor failed; no longer "
                   "serving it\n");
      return;
    }
    if (stopping_) return;
    // Wake-ups coalesce: one read may stand for several submitted slots.
    for (std::uint32_t slot = 0; slot < ring.slot_count(); ++slot) {
      if (ring.take(slot)) run_([this, slot] { serve_slot(slot); });
    }
  }
}

void ShmServer::serve_slot(std::uint32_t slot) {
  auto& ring = segment_.ring();
  Response response;
  try {
    auto in = ring.read_request(slot);
    Request request{std::move(in.body), in.content_type.value_or(""), in.accept.value_or(""),
                    in.custom_attributes.value_or(""), std::move(in.inference_id)};
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
  const char byte = 1;
  [[maybe_unused]] auto n = ::write(complete_.get(), &byte, 1);
}

}  // namespace tandem::stage
