// A shared-memory segment of the stage ring (shm_ring.h), mapped into this process. tandem
// creates one per stage launch with memfd_create: it has no name in any file system, its
// size is sealed (so a stage cannot shrink it under tandem), and it reaches the stage only as
// an inherited descriptor. The stage maps the descriptor it was given.
#pragma once

#include <cstddef>
#include <utility>

#include "tandem/proto/shm_ring.h"

namespace tandem::proto::shm {

// Owns one file descriptor; closes it when destroyed.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset();
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

class Segment {
 public:
  // tandem: a fresh segment for `geometry`, every slot free. The descriptor is close-on-exec
  // and numbered 3 or above. Throws std::runtime_error with the system's reason.
  static Segment create(const Geometry& geometry);
  // A stage: maps the segment behind `fd` (kept open by the Segment) and checks it with
  // Ring::attach. Throws std::runtime_error saying what is wrong.
  static Segment map(UniqueFd fd);

  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&&) = delete;
  ~Segment();

  Ring& ring() { return ring_; }
  int fd() const { return fd_.get(); }
  // Hands over this process's descriptor (to give to the stage); the mapping stays.
  UniqueFd release_fd() { return std::move(fd_); }
  std::size_t size() const { return size_; }

 private:
  Segment(UniqueFd fd, void* memory, std::size_t size, Ring ring)
      : fd_(std::move(fd)), memory_(memory), size_(size), ring_(ring) {}

  UniqueFd fd_;
  void* memory_;
  std::size_t size_;
  Ring ring_;
};

// A descriptor numbered 3 or above (so handing it to a child never collides with its
// standard streams), close-on-exec. Takes ownership of `fd`.
UniqueFd above_stdio(int fd);

}  // namespace tandem::proto::shm
