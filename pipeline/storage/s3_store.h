// An ObjectStore over one S3 bucket (or any S3-compatible server): list = ListObjectsV2 with
// pagination, open = successive ranged GETs, create = a multipart upload completed on
// commit (a single PUT for objects smaller than one part), exists = HEAD, remove = DELETE.
#pragma once

#include <memory>

#include "pipeline/storage/object_store.h"
#include "pipeline/storage/s3_client.h"

namespace tandem::storage {

class S3Store final : public ObjectStore {
 public:
  // Throws StorageError when `bucket` is not a valid bucket name or `options` are out of bounds.
  S3Store(S3Config config, std::string bucket, S3Options options = {});

  std::vector<ObjectInfo> list(const std::string& prefix) override;
  std::unique_ptr<InputStream> open(const std::string& key) override;
  std::unique_ptr<OutputObject> create(const std::string& key) override;
  bool exists(const std::string& key) override;
  void remove(const std::string& key) override;

  // The store's own connection, for requests the interface does not cover (tests create
  // buckets and list pending uploads with it).
  S3Client& client() { return client_; }

 private:
  S3Client client_;
};

// The two streams, also used directly by tests.
std::unique_ptr<InputStream> open_s3_object(std::shared_ptr<S3Context> context, std::string key);
std::unique_ptr<OutputObject> create_s3_object(std::shared_ptr<S3Context> context, std::string key);

}  // namespace tandem::storage
