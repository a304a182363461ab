#include "pipeline/storage/aws_config.h"

#include <fmt/format.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pipeline/storage/object_store.h"
#include "tandem/proto/json_depth.h"  // header-only: no tandem_proto to link

namespace tandem::storage {
namespace {

// Container credentials are only fetched over plain HTTP from hosts an attacker on the
// network cannot impersonate: loopback, and the ECS and EKS agents' link-local addresses
// (the rule the AWS SDKs apply to AWS_CONTAINER_CREDENTIALS_FULL_URI).
constexpr std::string_view kEcsAgent = "http://169.254.170.2";
constexpr std::string_view kTrustedHttpHosts[] = {"localhost", "169.254.170.2", "169.254.170.23",
                                                  "[::1]", "[fd00:ec2::23]"};

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n";
  std::size_t begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

std::optional<std::string> lookup(const EnvLookup& env, const std::string& name) {
  std::optional<std::string> value = env(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

std::string resolve_endpoint(const EnvLookup& env) {
  for (const char* name : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
    std::optional<std::string> url = lookup(env, name);
    if (!url) continue;
    if (!url->starts_with("http://") && !url->starts_with("https://")) {
      throw StorageError(
          fmt::format("{}: expected an http:// or https:// URL, got \"{}\"", name, *url));
    }
    while (url->ends_with('/')) url->pop_back();
    return *url;
  }
  return "";
}

std::string resolve_region(const EnvLookup& env) {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    std::optional<std::string> region = lookup(env, name);
    if (!region) continue;
    // The region becomes part of a host name and of the signing scope.
    if (region->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      throw StorageError(fmt::format("{}: \"{}\" is not a region name", name, *region));
    }
    return *region;
  }
  return "us-east-1";
}

std::string url_host(std::string_view url) {
  std::size_t start = url.find("://") + 3;
  std::string_view rest = url.substr(start, url.find('/', start) - start);
  if (rest.starts_with('[')) return std::string(rest.substr(0, rest.find(']') + 1));
  return std::string(rest.substr(0, rest.find(':')));
}

bool trusted_http_host(const std::string& host) {
  if (host.starts_with("127.")) return true;
  for (std::string_view trusted : kTrustedHttpHosts) {
    if (host == trusted) return true;
  }
  return false;
}

std::optional<ContainerCredentialsEndpoint> resolve_container(const EnvLookup& env,
                                                              const FileReader& read_file) {
  ContainerCredentialsEndpoint endpoint;
  if (std::optional<std::string> relative = lookup(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    endpoint.url =
        fmt::format("{}{}{}", kEcsAgent, relative->starts_with('/') ? "" : "/", *relative);
  } else if (std::optional<std::string> full = lookup(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    bool https = full->starts_with("https://");
    if (!https && !(full->starts_with("http://") && trusted_http_host(url_host(*full)))) {
      throw StorageError(fmt::format(
          "AWS_CONTAINER_CREDENTIALS_FULL_URI: \"{}\" must be https, or http to a loopback address "
          "or the ECS/EKS credentials agent",
          *full));
    }
    endpoint.url = *full;
  } else {
    return std::nullopt;
  }
  if (std::optional<std::string> token = lookup(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    endpoint.authorization = *token;
  } else if (std::optional<std::string> file =
                 lookup(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    std::optional<std::string> token_text = read_file(*file);
    if (!token_text) {
      throw StorageError(
          fmt::format("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {}: no such file", *file));
    }
    endpoint.authorization = std::string(trim(*token_text));
  }
  return endpoint;
}

std::optional<AwsCredentials> from_environment(const EnvLookup& env) {
  std::optional<std::string> id = lookup(env, "AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = lookup(env, "AWS_SECRET_ACCESS_KEY");
  if (!id && !secret) return std::nullopt;
  if (!id || !secret) {
    throw StorageError(fmt::format("{} is set but {} is not",
                                   id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                                   id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"));
  }
  return AwsCredentials{*id, *secret, lookup(env, "AWS_SESSION_TOKEN").value_or(""), std::nullopt};
}

}  // namespace

std::optional<AwsCredentials> parse_credentials_profile(std::string_view ini,
                                                        const std::string& profile,
                                                        const std::string& file_name) {
  std::optional<AwsCredentials> found;
  bool in_profile = false;
  std::istringstream lines{std::string(ini)};
  for (std::string raw; std::getline(lines, raw);) {
    // Indented lines continue a nested setting (e.g. `s3 =`), which holds no credentials.
    if (!raw.empty() && (raw[0] == ' ' || raw[0] == '\t')) continue;
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      in_profile = trim(line.substr(1, line.size() - 2)) == profile;
      if (in_profile && !found) found.emplace();
      continue;
    }
    std::size_t equals = line.find('=');
    if (!in_profile || equals == std::string_view::npos) continue;
    std::string_view key = trim(line.substr(0, equals));
    std::string value(trim(line.substr(equals + 1)));
    if (key == "aws_access_key_id") found->access_key_id = value;
    if (key == "aws_secret_access_key") found->secret_access_key = value;
    if (key == "aws_session_token") found->session_token = value;
  }
  if (found && (found->access_key_id.empty() || found->secret_access_key.empty())) {
    throw StorageError(fmt::format(
        "{}: profile '{}' has no {} (role, SSO and credential_process profiles are not supported: "
        "export the credentials with `aws configure export-credentials --format env`)",
        file_name, profile,
        found->access_key_id.empty() ? "aws_access_key_id" : "aws_secret_access_key"));
  }
  return found;
}

AwsCredentials parse_container_credentials(std::string_view json, const std::string& source) {
  if (const auto at = proto::json::too_deep_at(json)) {
    throw StorageError(
        fmt::format("{}: credentials response: {}", source, proto::json::too_deep_message(*at)));
  }
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    // Its what() quotes the text read last, which may be part of a secret: only where.
    throw StorageError(
        fmt::format("{}: credentials response is not valid JSON (at byte {})", source, e.byte));
  } catch (const nlohmann::json::exception&) {  // out_of_range: a number beyond a double
    throw StorageError(fmt::format("{}: credentials response is not valid JSON", source));
  }
  auto text = [&](const char* field, bool required) -> std::string {
    auto it = document.is_object() ? document.find(field) : document.end();
    if (it != document.end() && it->is_string()) return it->get<std::string>();
    if (!required) return "";
    throw StorageError(fmt::format("{}: credentials response has no string \"{}\"", source, field));
  };
  AwsCredentials credentials{text("AccessKeyId", true), text("SecretAccessKey", true),
                             text("Token", false), std::nullopt};
  if (std::string expiration = text("Expiration", false); !expiration.empty()) {
    std::tm tm{};
    if (std::sscanf(expiration.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
      throw StorageError(
          fmt::format("{}: Expiration \"{}\" is not an ISO 8601 time", source, expiration));
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    credentials.expiration = std::chrono::system_clock::from_time_t(timegm(&tm));
  }
  return credentials;
}

bool needs_refresh(const AwsCredentials& credentials, std::chrono::system_clock::time_point now) {
  return credentials.expiration && now + kCredentialsRefreshMargin >= *credentials.expiration;
}

S3Config resolve_s3_config(const EnvLookup& env, const FileReader& read_file) {
  S3Config config;
  config.endpoint = resolve_endpoint(env);
  config.region = resolve_region(env);
  if (std::optional<AwsCredentials> credentials = from_environment(env)) {
    config.credentials = *credentials;
    config.credentials_source = "environment (AWS_ACCESS_KEY_ID)";
    return config;
  }

  std::optional<std::string> explicit_profile = lookup(env, "AWS_PROFILE");
  std::string profile = explicit_profile.value_or("default");
  std::optional<std::string> file = lookup(env, "AWS_SHARED_CREDENTIALS_FILE");
  if (!file) {
    if (std::optional<std::string> home = lookup(env, "HOME")) file = *home + "/.aws/credentials";
  }
  std::optional<std::string> ini = file ? read_file(*file) : std::nullopt;
  if (ini) {
    if (std::optional<AwsCredentials> credentials =
            parse_credentials_profile(*ini, profile, *file)) {
      config.credentials = *credentials;
      config.credentials_source = fmt::format("{} [{}]", *file, profile);
      return config;
    }
  }
  // A profile asked for by name must exist, as in the AWS CLI; the default one may not.
  if (explicit_profile) {
    throw StorageError(fmt::format("AWS_PROFILE: profile '{}' not found in {}", profile,
                                   file.value_or("~/.aws/credentials (HOME is not set)")));
  }

  if (std::optional<ContainerCredentialsEndpoint> container = resolve_container(env, read_file)) {
    config.credentials_source = fmt::format("container credentials from {}", container->url);
    config.credentials = std::move(*container);
    return config;
  }
  throw StorageError(fmt::format(
      "no AWS credentials: AWS_ACCESS_KEY_ID is not set, {} is missing or has no profile '{}', "
      "and neither "
      "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
      file.value_or("~/.aws/credentials"), profile));
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

FileReader read_file_from_disk() {
  return [](const std::string& path) -> std::optional<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream contents;
    contents << in.rdbuf();
    return contents.str();
  };
}

}  // namespace tandem::storage
