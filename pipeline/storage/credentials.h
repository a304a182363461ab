// The credentials requests are signed with, shared by a store and every stream it opens
// (possibly on other threads). Static credentials are returned as is; container credentials
// are fetched on first use and fetched again shortly before they expire.
#pragma once

#include <mutex>
#include <optional>
#include <variant>

#include "pipeline/storage/aws_config.h"
#include "pipeline/storage/curl_http.h"

namespace tandem::storage {

class CredentialProvider {
 public:
  CredentialProvider(std::variant<AwsCredentials, ContainerCredentialsEndpoint> source,
                     RetryPolicy retry);

  // Thread-safe. Throws StorageError naming the credentials endpoint when a fetch fails.
  AwsCredentials current();

 private:
  AwsCredentials fetch(const ContainerCredentialsEndpoint& endpoint) const;

  std::variant<AwsCredentials, ContainerCredentialsEndpoint> source_;
  RetryPolicy retry_;
  std::mutex mutex_;
  std::optional<AwsCredentials> cached_;
};

}  // namespace tandem::storage
