// An ObjectStore over a local folder: keys are '/'-separated paths relative to the root.
// Writes go to a hidden temporary file beside the target (`.<name>.tmp-<random>`) that is
// fsynced and renamed over the key on commit, so a reader sees the whole file or nothing.
// list() never returns those temporary files.
#pragma once

#include <filesystem>

#include "pipeline/storage/object_store.h"

namespace tandem::storage {

class LocalStore final : public ObjectStore {
 public:
  explicit LocalStore(std::filesystem::path root);

  std::vector<ObjectInfo> list(const std::string& prefix) override;
  std::unique_ptr<InputStream> open(const std::string& key) override;
  std::unique_ptr<OutputObject> create(const std::string& key) override;
  bool exists(const std::string& key) override;
  void remove(const std::string& key) override;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path path_of(const std::string& key) const;  // validated, under root_

  std::filesystem::path root_;
};

// True for the names LocalStore gives its temporary files.
bool is_local_temp_name(const std::string& file_name);

}  // namespace tandem::storage
