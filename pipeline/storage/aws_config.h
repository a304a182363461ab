// How to reach S3 and whose credentials sign the requests, resolved the way the AWS CLI and
// SDKs do it. Pure: the environment and the file system are passed in as functions, so every
// rule here is tested without touching either.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tandem::storage {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials: sent as x-amz-security-token
  std::optional<std::chrono::system_clock::time_point> expiration;
};

// Credentials served over HTTP to ECS tasks and EKS pods; fetched (and refetched before they
// expire) by CredentialProvider.
struct ContainerCredentialsEndpoint {
  std::string url;
  std::string authorization;  // the Authorization header's value; empty: none sent
};

struct S3Config {
  std::string endpoint;  // custom endpoint, requests are path-style; empty: AWS, virtual-hosted
  std::string region = "us-east-1";
  std::variant<AwsCredentials, ContainerCredentialsEndpoint> credentials;
  std::string credentials_source;  // where the credentials came from, for messages
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The file's contents, or nullopt when it does not exist.
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;

// Endpoint: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL. Region: AWS_REGION, then
// AWS_DEFAULT_REGION, then us-east-1. Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
// (+AWS_SESSION_TOKEN), then the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials, profile AWS_PROFILE or default), then the container endpoint
// (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN
// or _TOKEN_FILE). Empty variables count as unset. Throws StorageError naming the variable or
// file at fault, or listing what was tried when nothing provides credentials.
S3Config resolve_s3_config(const EnvLookup& env, const FileReader& read_file);

// The named profile of a shared credentials file; nullopt if the file has no such profile.
// Throws StorageError naming the file and profile when the profile lacks a key.
std::optional<AwsCredentials> parse_credentials_profile(std::string_view ini,
                                                        const std::string& profile,
                                                        const std::string& file_name);

// The JSON a container credentials endpoint returns. `source` names it in errors.
AwsCredentials parse_container_credentials(std::string_view json, const std::string& source);

// Temporary credentials are replaced this long before they expire, so a request signed with
// them never reaches S3 after expiry.
inline constexpr std::chrono::minutes kCredentialsRefreshMargin{5};
bool needs_refresh(const AwsCredentials& credentials, std::chrono::system_clock::time_point now);

// The real process environment and file system.
EnvLookup process_environment();
FileReader read_file_from_disk();

}  // namespace tandem::storage
