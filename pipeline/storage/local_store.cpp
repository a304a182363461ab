#include "pipeline/storage/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>

namespace tandem::storage {
namespace fs = std::filesystem;

namespace {

// Reads and writes go through a buffer of this size, so a caller reading or writing a few
// bytes at a time does not pay one system call each.
constexpr std::size_t kBufferSize = 64 * 1024;

// Outputs and capture files hold model inputs and answers: no access for other users, read
// access for the group (a log shipper, a monitoring job), set exactly whatever the umask.
constexpr mode_t kFileMode = 0640;
constexpr mode_t kFolderMode = 0750;

[[noreturn]] void fail(const fs::path& path, std::string_view what, int error) {
  throw StorageError(fmt::format("{}: {}: {}", path.string(), what, std::strerror(error)));
}

// A temporary file is named `.<name>.tmp-<kSuffixDigits lowercase hex digits>`.
constexpr std::string_view kTempMark = ".tmp-";
constexpr std::size_t kSuffixDigits = 16;

std::string random_suffix() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return fmt::format("{:016x}", engine());
}

// The name a temporary file was created for, or empty when `file_name` is not exactly of the
// shape create() gives it.
std::string_view temp_target(std::string_view file_name) {
  const std::size_t overhead = 1 + kTempMark.size() + kSuffixDigits;
  if (file_name.size() <= overhead || file_name.front() != '.') return {};
  const std::string_view suffix = file_name.substr(file_name.size() - kSuffixDigits);
  const bool hex = std::all_of(suffix.begin(), suffix.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (!hex || file_name.substr(file_name.size() - overhead + 1, kTempMark.size()) != kTempMark) {
    return {};
  }
  return file_name.substr(1, file_name.size() - overhead);
}

// Keys come from list() or are composed by the caller; one that would leave the root
// (absolute, "..") or name a folder ("a//b", "a/") is a caller error, not a path to try.
void validate_key(const std::string& key) {
  bool bad = key.empty() || key.front() == '/' || key.find('\0') != std::string::npos;
  for (std::size_t start = 0; !bad && start <= key.size();) {
    std::size_t end = std::min(key.find('/', start), key.size());
    std::string_view segment(key.data() + start, end - start);
    bad = segment.empty() || segment == "." || segment == "..";
    start = end + 1;
  }
  if (bad) throw StorageError(fmt::format("\"{}\": not a valid object key", key));
}

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

class LocalInputStream final : public InputStream {
 public:
  LocalInputStream(fs::path path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::size_t read(char* out, std::size_t size) override {
    if (size == 0) return 0;
    if (begin_ == end_ && size >= kBufferSize) return read_some(out, size);
    if (begin_ == end_) {
      begin_ = 0;
      end_ = read_some(buffer_.data(), buffer_.size());
    }
    std::size_t n = std::min(size, end_ - begin_);
    std::memcpy(out, buffer_.data() + begin_, n);
    begin_ += n;
    return n;
  }

 private:
  std::size_t read_some(char* out, std::size_t size) {
    for (;;) {
      ssize_t n = ::read(fd_.get(), out, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) fail(path_, "read failed", errno);
    }
  }

  fs::path path_;
  FileDescriptor fd_;
  std::vector<char> buffer_ = std::vector<char>(kBufferSize);
  std::size_t begin_ = 0, end_ = 0;
};

class LocalOutputObject final : public OutputObject {
 public:
  // `folder` is the open folder that holds the output; names are relative to it.
  LocalOutputObject(fs::path final_path, std::string temp_name, int folder, int fd)
      : final_path_(std::move(final_path)),
        temp_path_(final_path_.parent_path() / temp_name),
        temp_name_(std::move(temp_name)),
        folder_(folder),
        fd_(fd) {
    buffer_.reserve(kBufferSize);
  }
  ~LocalOutputObject() override { abort(); }

  void write(std::string_view data) override {
    if (fd_.get() < 0)
      throw StorageError(fmt::format("{}: write after commit or abort", final_path_.string()));
    if (buffer_.size() + data.size() > kBufferSize) flush();
    if (data.size() >= kBufferSize) return write_all(data);
    buffer_.append(data);
  }

  void commit() override {
    if (fd_.get() < 0)
      throw StorageError(fmt::format("{}: commit after commit or abort", final_path_.string()));
    try {
      flush();
      // fsync before rename: otherwise a crash can leave the final name on an empty file.
      if (::fsync(fd_.get()) != 0) fail(temp_path_, "fsync failed", errno);
      if (::close(fd_.release()) != 0) fail(temp_path_, "close failed", errno);
      // renameat replaces a symbolic link at the final name rather than writing through it.
      const std::string final_name = final_path_.filename().string();
      if (::renameat(folder_.get(), temp_name_.c_str(), folder_.get(), final_name.c_str()) != 0) {
        fail(final_path_, fmt::format("rename from {} failed", temp_name_), errno);
      }
    } catch (...) {
      abort();
      throw;
    }
    finished_ = true;
    // The rename is durable only once the folder's entry is on disk.
    if (::fsync(folder_.get()) != 0)
      fail(final_path_.parent_path(), "fsync of folder failed", errno);
  }

  void abort() noexcept override {
    if (finished_) return;
    fd_.reset();
    ::unlinkat(folder_.get(), temp_name_.c_str(), 0);  // may be gone after a failed rename
    finished_ = true;                                  // nothing left to abort
  }

 private:
  void flush() {
    write_all(buffer_);
    buffer_.clear();
  }

  void write_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail(temp_path_, "write failed", errno);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  fs::path final_path_, temp_path_;
  std::string temp_name_;
  FileDescriptor folder_;
  FileDescriptor fd_;
  std::string buffer_;
  bool finished_ = false;
};

// Makes `name` in `parent` a folder with kFolderMode, if it is not there yet.
void make_folder_at(int parent, const char* name, const fs::path& path) {
  if (::mkdirat(parent, name, kFolderMode) == 0) {
    if (::fchmodat(parent, name, kFolderMode, 0) != 0) fail(path, "chmod failed", errno);
  } else if (errno != EEXIST) {
    fail(path, "cannot create folder", errno);
  }
}

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

// What a folder below the root is opened for: it decides what a missing folder and a link
// mean.
enum class FolderUse {
  create,  // an output's folder: missing ones are made, a link is an error
  write,   // the folder of an output to remove: missing is nullopt, a link is an error
  read,    // an input's folder: missing is nullopt, a link is an error
  look,    // exists(): missing or a link is nullopt, as nothing tandem may use is there
};

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

}  // namespace

bool is_local_temp_name(const std::string& file_name) {
  return file_name.starts_with('.') && file_name.find(".tmp-") != std::string::npos;
}

LocalStore::LocalStore(fs::path root) : root_(std::move(root)) {}

fs::path LocalStore::path_of(const std::string& key) const {
  validate_key(key);
  return root_ / key;
}

std::vector<ObjectInfo> LocalStore::list(const std::string& prefix) {
  return list_with_skipped(prefix).objects;
}

// S3 semantics over a tree: only the folder holding the prefix's last segment is read, and
// only its entries whose names start with that segment are descended into. The prefix's own
// folders are walked like any other: a link among them is skipped, not followed.
Listing LocalStore::list_with_skipped(const std::string& prefix) {
  if (prefix.starts_with('/')) return {};  // no key starts with '/'
  const std::size_t slash = prefix.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : prefix.substr(0, slash);
  const std::string partial = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
  if (!folder.empty()) validate_key(folder);

  Listing listing;
  fs::path dir = root_;
  std::string folder_key;
  std::error_code ec;
  for (const fs::path& part : fs::path(folder)) {
    dir /= part;
    folder_key += part.string();
    if (fs::symlink_status(dir, ec).type() == fs::file_type::symlink) {
      listing.skipped.push_back({folder_key, link_reason(dir)});
      return listing;
    }
    folder_key += '/';
  }
  if (!fs::is_directory(dir, ec)) {
    if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
      fail(dir, "cannot list folder", ec.value());
    }
    return listing;
  }
  walk(dir, folder_key, partial, listing);
  std::sort(listing.objects.begin(), listing.objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  std::sort(listing.skipped.begin(), listing.skipped.end(),
            [](const SkippedEntry& a, const SkippedEntry& b) { return a.key < b.key; });
  return listing;
}

std::unique_ptr<InputStream> LocalStore::open(const std::string& key) {
  const fs::path path = path_of(key);
  std::optional<FileDescriptor> folder =
      open_folder(root_, fs::path(key).parent_path(), FolderUse::read);
  if (!folder) fail(path, "open failed", ENOENT);
  const std::string name = path.filename().string();
  // O_NONBLOCK: a FIFO named by a manifest must not block the open until a writer comes.
  FileDescriptor fd(
      ::openat(folder->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    const int error = errno;
    if (is_link_at(folder->get(), name.c_str())) refuse_link(path, true);
    fail(path, "open failed", error);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(path, "stat failed", errno);
  if (S_ISDIR(st.st_mode)) fail(path, "open failed", EISDIR);
  if (!S_ISREG(st.st_mode)) {
    throw StorageError(fmt::format("{}: open failed: {}", path.string(),
                                   special_file_reason(file_type_of(st.st_mode))));
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    fail(path, "fcntl failed", errno);
  return std::make_unique<LocalInputStream>(path, fd.release());
}

std::unique_ptr<OutputObject> LocalStore::create(const std::string& key) {
  fs::path path = path_of(key);
  FileDescriptor folder =
      std::move(*open_folder(root_, fs::path(key).parent_path(), FolderUse::create));
  std::string temp = fmt::format(".{}.tmp-{}", path.filename().string(), random_suffix());
  // O_EXCL: two writers of one key never share a temporary file.
  FileDescriptor fd(::openat(folder.get(), temp.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode));
  if (fd.get() < 0) fail(path.parent_path() / temp, "cannot create temporary file", errno);
  if (::fchmod(fd.get(), kFileMode) != 0) fail(path.parent_path() / temp, "chmod failed", errno);
  return std::make_unique<LocalOutputObject>(path, std::move(temp), folder.release(), fd.release());
}

// A link, at the name or on the way, is no object: --resume runs the object again, and its
// create() replaces the link or fails naming it.
bool LocalStore::exists(const std::string& key) {
  const fs::path path = path_of(key);
  std::optional<FileDescriptor> folder =
      open_folder(root_, fs::path(key).parent_path(), FolderUse::look);
  if (!folder) return false;
  struct stat st {};
  if (::fstatat(folder->get(), path.filename().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    fail(path, "stat failed", errno);
  }
  return S_ISREG(st.st_mode);
}

void LocalStore::remove(const std::string& key) {
  fs::path path = path_of(key);
  std::optional<FileDescriptor> folder =
      open_folder(root_, fs::path(key).parent_path(), FolderUse::write);
  if (!folder) return;  // nothing there to remove
  const std::string name = path.filename().string();
  if (::unlinkat(folder->get(), name.c_str(), 0) != 0 && errno != ENOENT) {
    fail(path, "remove failed", errno);
  }
}

// Only regular files of exactly create()'s name shape for one of `keys` are removed; a folder
// that is missing or a link is not looked into (create() never writes through one).
std::vector<std::string> LocalStore::remove_unfinished(const std::vector<std::string>& keys) {
  std::map<std::string, std::set<std::string, std::less<>>> names_by_folder;
  for (const std::string& key : keys) {
    const fs::path path = path_of(key);
    names_by_folder[fs::path(key).parent_path().string()].insert(path.filename().string());
  }
  std::vector<std::string> removed;
  for (const auto& [folder_key, names] : names_by_folder) {
    std::optional<FileDescriptor> folder = open_folder(root_, folder_key, FolderUse::look);
    if (!folder) continue;
    const fs::path folder_path = folder_key.empty() ? root_ : root_ / folder_key;
    for (const std::string& name : entry_names(folder->get(), folder_path)) {
      const std::string_view target = temp_target(name);
      if (target.empty() || !names.contains(target)) continue;
      struct stat st {};
      if (::fstatat(folder->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode)) {
        continue;
      }
      if (::unlinkat(folder->get(), name.c_str(), 0) != 0) {
        if (errno == ENOENT) continue;
        fail(folder_path / name, "cannot remove temporary file", errno);
      }
      removed.push_back((folder_path / name).string());
    }
  }
  return removed;
}

}  // namespace tandem::storage
