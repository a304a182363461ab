// Files tandem writes at paths the operator names (a transform job's --report and
// --metrics-file, replay's --report and --trace files): created or truncated with mode 0640
// whatever the umask, never through a symbolic link at that path. They can hold request
// bodies and failure messages, so other users get no access (docs/security.md).
#pragma once

#include <string>
#include <string_view>

#include "tandem/proto/result.h"

namespace tandem::common {

inline constexpr unsigned kPrivateFileMode = 0640;

// Replaces the file's contents with `text`. On failure the error is the system's reason ("Too
// many levels of symbolic links", "Permission denied", ...).
Result<void, std::string> write_private_file(const std::string& path, std::string_view text);

}  // namespace tandem::common
