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

#include "pipeline/storage/local_folder.h"

namespace tandem::storage {
namespace fs = std::filesystem;
using local::entry_names;
using local::fail;
using local::file_type_of;
using local::FileDescriptor;
using local::FolderUse;
using local::is_link_at;
using local::kFileMode;
using local::link_reason;
using local::open_folder;
using local::refuse_link;
using local::special_file_reason;
using local::walk;

namespace {

// Reads and writes go through a buffer of this size, so a caller reading or writing a few
// bytes at a time does not pay one system call each.
constexpr std::size_t kBufferSize = 64 * 1024;

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
