#include "pipeline/common/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tandem::common {

Result<void, std::string> write_private_file(const std::string& path, std::string_view text) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, kPrivateFileMode);
  if (fd < 0) return std::string(std::strerror(errno));
  int error = ::fchmod(fd, kPrivateFileMode) == 0 ? 0 : errno;
  while (error == 0 && !text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = errno;
    if (n > 0) text.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) return std::string(std::strerror(error));
  return {};
}

}  // namespace tandem::common
