// The local store's safe access to folders: every path below a store's root is opened one
// segment at a time relative to an open descriptor, never following a symbolic link, so a link
// placed inside an input or output folder can never send a read or a write outside it. Used
// only by local_store.cpp; every failure throws StorageError naming the path.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/storage/object_store.h"

namespace tandem::storage::local {

// Outputs and capture files hold model inputs and answers: no access for other users, read
// access for the group (a log shipper, a monitoring job), set exactly whatever the umask.
constexpr mode_t kFileMode = 0640;
constexpr mode_t kFolderMode = 0750;

// Throws StorageError "<path>: <what>: <strerror(error)>".
[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what, int error);

// Owns a descriptor; closes it when destroyed.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    reset();
    fd_ = other.release();
    return *this;
  }
  ~FileDescriptor() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(release());
  }

 private:
  int fd_;
};

// What a folder below the root is opened for: it decides what a missing folder and a link
// mean.
enum class FolderUse {
  create,  // an output's folder: missing ones are made, a link is an error
  write,   // the folder of an output to remove: missing is nullopt, a link is an error
  read,    // an input's folder: missing is nullopt, a link is an error
  look,    // exists(): missing or a link is nullopt, as nothing tandem may use is there
};

// Opens the folder `relative` (a validated key's folder part) under `root`, one segment at a
// time without following symbolic links. The root itself is the caller's choice and may be a
// link.
std::optional<FileDescriptor> open_folder(const std::filesystem::path& root,
                                          const std::filesystem::path& relative, FolderUse use);

bool is_link_at(int folder, const char* name);
// Throws the error for a link met while reading (an input) or writing (an output).
[[noreturn]] void refuse_link(const std::filesystem::path& path, bool reading);

// Why a listing skips a link or a special file, in the words of the job report.
std::string link_reason(const std::filesystem::path& link);
std::filesystem::file_type file_type_of(mode_t mode);
std::string special_file_reason(std::filesystem::file_type type);

// Lists the folder `dir`, whose entries have keys `key_prefix` + name, taking only the entries
// whose names start with `partial` at this level, and everything below the folders taken.
void walk(const std::filesystem::path& dir, const std::string& key_prefix, std::string_view partial,
          Listing& out);

// The names in the open folder `folder` (at `path`, for messages).
std::vector<std::string> entry_names(int folder, const std::filesystem::path& path);

}  // namespace tandem::storage::local
