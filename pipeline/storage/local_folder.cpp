#include "pipeline/storage/local_folder.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pipeline/storage/local_store.h"

namespace tandem::storage::local {
namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& path, std::string_view what, int error) {
  throw StorageError(fmt::format("{}: {}: {}", path.string(), what, std::strerror(error)));
}

namespace {

// Makes `name` in `parent` a folder with kFolderMode, if it is not there yet.
void make_folder_at(int parent, const char* name, const fs::path& path) {
  if (::mkdirat(parent, name, kFolderMode) == 0) {
    if (::fchmodat(parent, name, kFolderMode, 0) != 0) fail(path, "chmod failed", errno);
  } else if (errno != EEXIST) {
    fail(path, "cannot create folder", errno);
  }
}

}  // namespace

bool is_link_at(int folder, const char* name) {
  struct stat st {};
  return ::fstatat(folder, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

[[noreturn]] void refuse_link(const fs::path& path, bool reading) {
  throw StorageError(path.string() + (reading ? ": is a symbolic link; tandem never reads through "
                                                "a link inside an input folder"
                                              : ": is a symbolic link; tandem never writes through "
                                                "a link inside an output folder"));
}

// Opens the folder `relative` (a validated key's folder part) under `root`, one segment at a
// time without following symbolic links: a link placed inside the root can never send a read
// or a write outside it. The root itself is the caller's choice and may be a link.
std::optional<FileDescriptor> open_folder(const fs::path& root, const fs::path& relative,
                                          FolderUse use) {
  const bool create = use == FolderUse::create;
  if (create) {
    fs::path partial;
    for (const fs::path& part : root) {
      partial /= part;
      if (part == partial.root_path() || part.empty()) continue;
      make_folder_at(AT_FDCWD, partial.c_str(), partial);
    }
  }
  FileDescriptor folder(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (folder.get() < 0 && !create && errno == ENOENT) return std::nullopt;
  if (folder.get() < 0) fail(root, "cannot open folder", errno);
  fs::path path = root;
  for (const fs::path& part : relative) {
    path /= part;
    if (create) make_folder_at(folder.get(), part.c_str(), path);
    FileDescriptor next(
        ::openat(folder.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0) {
      const int error = errno;
      if (is_link_at(folder.get(), part.c_str())) {
        if (use == FolderUse::look) return std::nullopt;
        refuse_link(path, use == FolderUse::read);
      }
      if (!create && (error == ENOENT || error == ENOTDIR)) return std::nullopt;
      fail(path, create ? "cannot create folder" : "cannot open folder", error);
    }
    folder = std::move(next);
  }
  return folder;
}

namespace {

// Control bytes of a name shown in a message as \xNN, so a link's target cannot forge lines.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string link_reason(const fs::path& link) {
  std::error_code ec;
  const fs::path target = fs::read_symlink(link, ec);
  return fmt::format("a symbolic link (to {}); tandem does not follow links in an input folder",
                     ec ? std::string("?") : printable(target.string()));
}

fs::file_type file_type_of(mode_t mode) {
  if (S_ISFIFO(mode)) return fs::file_type::fifo;
  if (S_ISSOCK(mode)) return fs::file_type::socket;
  if (S_ISBLK(mode)) return fs::file_type::block;
  if (S_ISCHR(mode)) return fs::file_type::character;
  return fs::file_type::unknown;
}

std::string special_file_reason(fs::file_type type) {
  switch (type) {
    case fs::file_type::fifo:
      return "a FIFO, not a regular file";
    case fs::file_type::socket:
      return "a socket, not a regular file";
    case fs::file_type::block:
      return "a block device, not a regular file";
    case fs::file_type::character:
      return "a character device, not a regular file";
    default:
      return "not a regular file";
  }
}

// Lists the folder `dir`, whose entries have keys `key_prefix` + name, taking only the entries
// whose names start with `partial` at this level, and everything below the folders taken.
// Iterative (a stack of folders still to read), so a deeply nested tree costs heap, not stack.
void walk(const fs::path& dir, const std::string& key_prefix, std::string_view partial,
          Listing& out) {
  std::vector<std::pair<fs::path, std::string>> pending{{dir, key_prefix}};
  for (bool top = true; !pending.empty(); top = false) {
    auto [folder, prefix] = std::move(pending.back());
    pending.pop_back();
    std::error_code ec;
    fs::directory_iterator it(folder, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if ((top && !name.starts_with(partial)) || is_local_temp_name(name)) continue;
      const std::string key = prefix + name;
      std::error_code status_ec;
      const fs::file_type type = it->symlink_status(status_ec).type();
      if (status_ec) fail(it->path(), "stat failed", status_ec.value());
      if (type == fs::file_type::regular) {
        const std::uintmax_t size = it->file_size(status_ec);
        if (status_ec) fail(it->path(), "stat failed", status_ec.value());
        out.objects.push_back({key, size});
      } else if (type == fs::file_type::directory) {
        pending.emplace_back(it->path(), key + "/");
      } else if (type == fs::file_type::symlink) {
        out.skipped.push_back({key, link_reason(it->path())});
      } else {
        out.skipped.push_back({key, special_file_reason(type)});
      }
    }
    if (ec) fail(folder, "cannot list folder", ec.value());
  }
}

// The names in the open folder `folder` (at `path`, for messages).
std::vector<std::string> entry_names(int folder, const fs::path& path) {
  const int fd = ::dup(folder);
  if (fd < 0) fail(path, "cannot list folder", errno);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    const int error = errno;
    ::close(fd);
    fail(path, "cannot list folder", error);
  }
  std::vector<std::string> names;
  int error = 0;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      error = errno;
      break;
    }
    names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  if (error != 0) fail(path, "cannot list folder", error);
  return names;
}

}  // namespace tandem::storage::local
