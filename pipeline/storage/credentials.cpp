#include "pipeline/storage/credentials.h"

#include <fmt/format.h>

#include "pipeline/storage/object_store.h"

namespace tandem::storage {
namespace {

// A credentials document is a few hundred bytes; the agent answers at once or not at all.
constexpr std::size_t kMaxCredentialsBody = 64 * 1024;
constexpr std::chrono::milliseconds kCredentialsConnectTimeout{2'000};
constexpr std::chrono::seconds kCredentialsStallTimeout{5};

}  // namespace

CredentialProvider::CredentialProvider(
    std::variant<AwsCredentials, ContainerCredentialsEndpoint> source, RetryPolicy retry)
    : source_(std::move(source)), retry_(retry) {}

AwsCredentials CredentialProvider::current() {
  if (const auto* fixed = std::get_if<AwsCredentials>(&source_)) return *fixed;
  // Held during the fetch so concurrent streams wait for one fetch instead of each making one.
  std::lock_guard lock(mutex_);
  if (!cached_ || needs_refresh(*cached_, std::chrono::system_clock::now())) {
    cached_ = fetch(std::get<ContainerCredentialsEndpoint>(source_));
  }
  return *cached_;
}

AwsCredentials CredentialProvider::fetch(const ContainerCredentialsEndpoint& endpoint) const {
  HttpRequest request;
  request.url = endpoint.url;
  request.max_response_body = kMaxCredentialsBody;
  request.connect_timeout = kCredentialsConnectTimeout;
  request.stall_timeout = kCredentialsStallTimeout;
  if (!endpoint.authorization.empty())
    request.headers.push_back("Authorization: " + endpoint.authorization);

  CurlEasy curl;
  HttpResponse response = with_retries(retry_, [&] { return curl.perform(request); });
  std::string source = fmt::format("container credentials from {}", endpoint.url);
  std::string after = response.tries > 1 ? fmt::format(" (after {} tries)", response.tries) : "";
  if (response.status == 0) {
    throw StorageError(fmt::format("{}: GET failed: {}{}", source, response.error, after));
  }
  if (response.status != 200) {
    // The body is the agent's short explanation; it never holds credentials on failure.
    throw StorageError(fmt::format("{}: GET failed: {} {}: {:.200}{}", source, response.status,
                                   response.reason, response.body, after));
  }
  return parse_container_credentials(response.body, source);
}

}  // namespace tandem::storage
