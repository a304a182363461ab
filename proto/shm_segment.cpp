#include "tandem/proto/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tandem::proto::shm {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void* map_shared(int fd, std::size_t size) {
  void* memory = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (memory == MAP_FAILED) fail("cannot map the shared-memory segment");
  return memory;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

UniqueFd above_stdio(int fd) {
  UniqueFd owned(fd);
  if (fd < 0 || fd > 2) return owned;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) fail("cannot duplicate a descriptor");
  return UniqueFd(moved);
}

Segment Segment::create(const Geometry& geometry) {
  const Layout layout = layout_of(geometry);
  UniqueFd fd = above_stdio(memfd_create("tandem-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) fail("memfd_create");
  // Only its owner could open it through /proc anyway; say so on the inode too.
  if (fchmod(fd.get(), 0600) != 0) fail("cannot restrict the shared-memory segment");
  if (ftruncate(fd.get(), static_cast<off_t>(layout.segment_size)) != 0)
    fail("cannot size the shared-memory segment to " + std::to_string(layout.segment_size) +
         " bytes");
  // A stage that shrank the segment would make tandem's reads fault (SIGBUS).
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    fail("cannot seal the shared-memory segment");
  void* memory = map_shared(fd.get(), layout.segment_size);
  const Ring ring = Ring::initialize(memory, layout.segment_size, geometry);
  return Segment(std::move(fd), memory, layout.segment_size, ring);
}

Segment Segment::map(UniqueFd fd) {
  struct stat info {};
  if (fstat(fd.get(), &info) != 0) fail("cannot inspect the shared-memory descriptor");
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size < control_size) {
    throw std::runtime_error("descriptor " + std::to_string(fd.get()) +
                             " is not a tandem shared-memory segment (" + std::to_string(size) +
                             " bytes)");
  }
  void* memory = map_shared(fd.get(), size);
  try {
    const Ring ring = Ring::attach(memory, size);
    return Segment(std::move(fd), memory, size, ring);
  } catch (...) {
    munmap(memory, size);
    throw;
  }
}

Segment::Segment(Segment&& other) noexcept
    : fd_(std::move(other.fd_)),
      memory_(std::exchange(other.memory_, nullptr)),
      size_(other.size_),
      ring_(other.ring_) {}

Segment::~Segment() {
  if (memory_) munmap(memory_, size_);
}

}  // namespace tandem::proto::shm
