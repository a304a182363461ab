// Where batch-transform input is read from and output is written to: a local folder or an
// S3 bucket, behind one small interface so the runner never knows which, and tests can use
// a folder. All calls block. Each object (store, stream, output) is used by one thread at a
// time; different objects may be used from different threads at once, and a stream or
// output may outlive the store that made it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::storage {

// Every failure: the message names the URI or path and what failed, e.g.
// `s3://bucket/in/a.csv: GET failed: 404 NoSuchKey: The specified key does not exist.`
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ObjectInfo {
  std::string key;  // the full key within the store ('/'-separated, also for folders)
  std::uint64_t size = 0;
  friend bool operator==(const ObjectInfo&, const ObjectInfo&) = default;
};

// An entry that a listing left out although a reader could take it for data, and why: a
// local folder's symbolic links (never followed) and special files (FIFOs, sockets, devices).
struct SkippedEntry {
  std::string key;     // where it is, as the key of an object there would be
  std::string reason;  // "a symbolic link (to /etc); tandem does not follow links ..."
  friend bool operator==(const SkippedEntry&, const SkippedEntry&) = default;
};

struct Listing {
  std::vector<ObjectInfo> objects;    // what list() returns
  std::vector<SkippedEntry> skipped;  // sorted by key
};

// A sequential reader of one object. Memory use is bounded (one read chunk), whatever the
// object's size.
class InputStream {
 public:
  virtual ~InputStream();
  // Fills up to `size` bytes of `buffer`; returns how many, 0 only at the end (or when `size`
  // is 0). Throws StorageError.
  virtual std::size_t read(char* buffer, std::size_t size) = 0;
};

// An object being written. Nothing is visible under its key until commit() returns; an
// output destroyed without commit() is aborted and leaves nothing behind.
class OutputObject {
 public:
  virtual ~OutputObject();
  virtual void write(std::string_view data) = 0;  // throws StorageError
  virtual void commit() = 0;                      // throws StorageError (and then aborts)
  virtual void abort() noexcept = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore();
  // Every object whose key starts with `prefix` (a plain string prefix, as in S3), at any
  // depth, sorted by key (byte order).
  virtual std::vector<ObjectInfo> list(const std::string& prefix) = 0;
  // list(), with what it left out. A store that leaves nothing out (S3) need not override it.
  virtual Listing list_with_skipped(const std::string& prefix);
  virtual std::unique_ptr<InputStream> open(const std::string& key) = 0;
  virtual std::unique_ptr<OutputObject> create(const std::string& key) = 0;
  virtual bool exists(const std::string& key) = 0;
  virtual void remove(const std::string& key) = 0;  // no error if absent
  // Removes what create() of these keys left behind when its process died before commit() or
  // abort(), and returns what it removed (paths or URIs, for the log). Only the caller knows
  // that no live writer is creating one of these keys: a store cannot tell a dead writer's
  // leftovers from a live one's. Throws StorageError. The default, for stores whose unfinished
  // writes are invisible (S3: a pending multipart upload, removed by a lifecycle rule), does
  // nothing.
  virtual std::vector<std::string> remove_unfinished(const std::vector<std::string>& keys);
};

// A URI resolved to a store and the key prefix the URI names within it.
struct Location {
  std::unique_ptr<ObjectStore> store;
  std::string prefix;  // list(prefix) gives what the URI names; keys are joined onto it
  std::string uri;     // as given, for messages
  // Where it resolved to, for debug logs: the folder, or the bucket, endpoint, region and where
  // the credentials came from (never the credentials themselves).
  std::string description;
};

// `s3://bucket/prefix`, `file:///abs/path` or a plain local path. A local folder (or a path
// ending in '/') becomes the store's root with an empty prefix; any other local path becomes
// its parent folder with the file name as prefix, so a single file lists as itself. S3 reads
// its configuration from the environment the AWS way (see docs/storage.md). Throws
// StorageError naming the URI.
Location open_location(const std::string& uri);

// The key prefix, within `outer`'s store, of the folder that `inner` names, when that folder
// is `outer`'s folder (its prefix up to the last '/') or below it: "out/" for the output
// folder `/data/in/out/` of the input `/data/in/`, "in/out/" for `s3://b/in/out/` and
// `s3://b/in/`. nullopt when it lies elsewhere (another folder tree, bucket or scheme). Local
// folders are compared once links are resolved, so two names of one folder are one folder.
std::optional<std::string> folder_within(const Location& outer, const Location& inner);

}  // namespace tandem::storage
