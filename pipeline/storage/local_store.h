// An ObjectStore over a local folder: keys are '/'-separated paths relative to the root.
// Writes go to a hidden temporary file beside the target (`.<name>.tmp-<random>`) that is
// fsynced and renamed over the key on commit, so a reader sees the whole file or nothing.
// list() never returns those temporary files; remove_unfinished() deletes those of given keys,
// matched by that exact name shape, that a killed process left.
//
// Symbolic links below the root are never followed, in either direction: list() leaves them
// out (list_with_skipped() says which), open() and create() refuse a key that passes through
// one, and exists() does not see an object behind one. Each folder is opened relative to the
// one above it with O_NOFOLLOW, so a link swapped in while tandem works cannot redirect it
// either. The root itself is the caller's choice and may be a link.
#pragma once

#include <filesystem>

#include "pipeline/storage/object_store.h"

namespace tandem::storage {

class LocalStore final : public ObjectStore {
 public:
  explicit LocalStore(std::filesystem::path root);

  std::vector<ObjectInfo> list(const std::string& prefix) override;
  Listing list_with_skipped(const std::string& prefix) override;
  std::unique_ptr<InputStream> open(const std::string& key) override;
  std::unique_ptr<OutputObject> create(const std::string& key) override;
  bool exists(const std::string& key) override;
  void remove(const std::string& key) override;
  std::vector<std::string> remove_unfinished(const std::vector<std::string>& keys) override;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path path_of(const std::string& key) const;  // validated, under root_

  std::filesystem::path root_;
};

// True for the names LocalStore gives its temporary files.
bool is_local_temp_name(const std::string& file_name);

}  // namespace tandem::storage
