// Endpoint, region and credential resolution with a fake environment and file system.
#include "pipeline/storage/aws_config.h"

#include <catch2/catch.hpp>
#include <map>

#include "pipeline/storage/object_store.h"

namespace tandem::storage {
namespace {

using namespace std::chrono_literals;

struct World {
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> files;

  S3Config resolve() const {
    return resolve_s3_config(
        [this](const std::string& name) -> std::optional<std::string> {
          auto it = env.find(name);
          return it == env.end() ? std::nullopt : std::optional(it->second);
        },
        [this](const std::string& path) -> std::optional<std::string> {
          auto it = files.find(path);
          return it == files.end() ? std::nullopt : std::optional(it->second);
        });
  }
};

const AwsCredentials& static_credentials(const S3Config& config) {
  REQUIRE(std::holds_alternative<AwsCredentials>(config.credentials));
  return std::get<AwsCredentials>(config.credentials);
}

const ContainerCredentialsEndpoint& container(const S3Config& config) {
  REQUIRE(std::holds_alternative<ContainerCredentialsEndpoint>(config.credentials));
  return std::get<ContainerCredentialsEndpoint>(config.credentials);
}

const char* kIni = R"(# shared credentials
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key=secret/default+1

[work]
aws_access_key_id     = AKIDWORK
aws_secret_access_key = secretwork
aws_session_token     = tokenwork
s3 =
  max_concurrent_requests = 20
[role]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default
)";

TEST_CASE("endpoint: AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL, else AWS's own", "[config]") {
  World world{{{"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "b"}}, {}};
  CHECK(world.resolve().endpoint.empty());
  world.env["AWS_ENDPOINT_URL"] = "http://general:1/";
  CHECK(world.resolve().endpoint == "http://general:1");  // trailing slash dropped
  world.env["AWS_ENDPOINT_URL_S3"] = "https://s3-only:2";
  CHECK(world.resolve().endpoint == "https://s3-only:2");
  world.env["AWS_ENDPOINT_URL_S3"] = "";  // empty counts as unset
  CHECK(world.resolve().endpoint == "http://general:1");
  world.env["AWS_ENDPOINT_URL_S3"] = "minio:9000";
  CHECK_THROWS_WITH(world.resolve(),
                    "AWS_ENDPOINT_URL_S3: expected an http:// or https:// URL, got \"minio:9000\"");
}

TEST_CASE("region: AWS_REGION over AWS_DEFAULT_REGION over us-east-1", "[config]") {
  World world{{{"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "b"}}, {}};
  CHECK(world.resolve().region == "us-east-1");
  world.env["AWS_DEFAULT_REGION"] = "eu-west-1";
  CHECK(world.resolve().region == "eu-west-1");
  world.env["AWS_REGION"] = "ap-south-2";
  CHECK(world.resolve().region == "ap-south-2");
  world.env["AWS_REGION"] = "eu-west-1.evil.com/";
  CHECK_THROWS_WITH(world.resolve(), "AWS_REGION: \"eu-west-1.evil.com/\" is not a region name");
}

TEST_CASE("credentials from the environment come first", "[config]") {
  World world{{{"AWS_ACCESS_KEY_ID", "AKIDENV"},
               {"AWS_SECRET_ACCESS_KEY", "secretenv"},
               {"AWS_SESSION_TOKEN", "tokenenv"},
               {"HOME", "/home/u"},
               {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x"}},
              {{"/home/u/.aws/credentials", kIni}}};
  S3Config config = world.resolve();
  CHECK(static_credentials(config).access_key_id == "AKIDENV");
  CHECK(static_credentials(config).secret_access_key == "secretenv");
  CHECK(static_credentials(config).session_token == "tokenenv");
  CHECK(config.credentials_source == "environment (AWS_ACCESS_KEY_ID)");

  world.env.erase("AWS_SECRET_ACCESS_KEY");
  CHECK_THROWS_WITH(world.resolve(), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
}

TEST_CASE("credentials from the shared file: AWS_PROFILE or default", "[config]") {
  World world{{{"HOME", "/home/u"}}, {{"/home/u/.aws/credentials", kIni}}};
  S3Config config = world.resolve();
  CHECK(static_credentials(config).access_key_id == "AKIDDEFAULT");
  CHECK(static_credentials(config).secret_access_key == "secret/default+1");
  CHECK(static_credentials(config).session_token.empty());
  CHECK(config.credentials_source == "/home/u/.aws/credentials [default]");

  world.env["AWS_PROFILE"] = "work";
  CHECK(static_credentials(world.resolve()).session_token == "tokenwork");

  world.env["AWS_PROFILE"] = "missing";
  CHECK_THROWS_WITH(world.resolve(),
                    "AWS_PROFILE: profile 'missing' not found in /home/u/.aws/credentials");

  world.env["AWS_PROFILE"] = "role";
  CHECK_THROWS_WITH(world.resolve(),
                    Catch::StartsWith("/home/u/.aws/credentials: profile 'role' has no "
                                      "aws_access_key_id (role, SSO and credential_process"));
}

TEST_CASE("AWS_SHARED_CREDENTIALS_FILE replaces ~/.aws/credentials", "[config]") {
  World world{
      {{"HOME", "/home/u"}, {"AWS_SHARED_CREDENTIALS_FILE", "/etc/creds"}, {"AWS_PROFILE", "work"}},
      {{"/home/u/.aws/credentials", "[work]\naws_access_key_id=NO\naws_secret_access_key=NO\n"},
       {"/etc/creds", kIni}}};
  S3Config config = world.resolve();
  CHECK(static_credentials(config).access_key_id == "AKIDWORK");
  CHECK(config.credentials_source == "/etc/creds [work]");
}

TEST_CASE("container credentials: the ECS relative URI on the ECS agent", "[config]") {
  World world{{{"HOME", "/home/u"},
               {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
               {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/ignored"}},
              {}};  // no credentials file at all
  S3Config config = world.resolve();
  CHECK(container(config).url == "http://169.254.170.2/v2/credentials/abc");
  CHECK(container(config).authorization.empty());
  CHECK(config.credentials_source ==
        "container credentials from http://169.254.170.2/v2/credentials/abc");
}

TEST_CASE("container credentials: a full URI with its authorization token", "[config]") {
  World world{{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds"},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer abc"}},
              {{"/var/run/token", " from-file\n"}}};
  CHECK(container(world.resolve()).url == "http://127.0.0.1:8080/creds");
  CHECK(container(world.resolve()).authorization == "Bearer abc");

  world.env.erase("AWS_CONTAINER_AUTHORIZATION_TOKEN");
  world.env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = "/var/run/token";
  CHECK(container(world.resolve()).authorization == "from-file");

  for (const char* trusted : {"http://169.254.170.23/v1/credentials", "http://[::1]:9/c",
                              "http://localhost/c", "https://creds.example.com/c"}) {
    world.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = trusted;
    CHECK(container(world.resolve()).url == trusted);
  }
  world.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://creds.example.com/c";
  CHECK_THROWS_WITH(world.resolve(),
                    Catch::StartsWith("AWS_CONTAINER_CREDENTIALS_FULL_URI: "
                                      "\"http://creds.example.com/c\" must be https"));
}

TEST_CASE("no credentials anywhere is an error that says what was tried", "[config]") {
  World world{{{"HOME", "/home/u"}}, {}};
  CHECK_THROWS_WITH(
      world.resolve(),
      "no AWS credentials: AWS_ACCESS_KEY_ID is not set, /home/u/.aws/credentials is missing or "
      "has no profile 'default', and neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor "
      "AWS_CONTAINER_CREDENTIALS_FULL_URI is set");
}

TEST_CASE("container credentials JSON, with expiry and refresh", "[config]") {
  AwsCredentials credentials = parse_container_credentials(
      R"({"AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","Expiration":"2030-01-02T03:04:05Z",
          "RoleArn":"arn:aws:iam::1:role/r"})",
      "here");
  CHECK(credentials.access_key_id == "ASIA1");
  CHECK(credentials.session_token == "t");
  REQUIRE(credentials.expiration);
  CHECK(std::chrono::system_clock::to_time_t(*credentials.expiration) == 1893553445);
  CHECK_FALSE(needs_refresh(credentials, *credentials.expiration - 6min));
  CHECK(needs_refresh(credentials, *credentials.expiration - 4min));
  CHECK_FALSE(
      needs_refresh(AwsCredentials{"a", "b", "", std::nullopt}, std::chrono::system_clock::now()));

  CHECK_THROWS_WITH(parse_container_credentials(R"({"AccessKeyId":"a"})", "here"),
                    "here: credentials response has no string \"SecretAccessKey\"");
  CHECK_THROWS_WITH(parse_container_credentials("not json", "here"),
                    "here: credentials response is not valid JSON (at byte 2)");
  // Where, never what: the text read last may be part of a secret.
  CHECK_THROWS_WITH(parse_container_credentials(
                        "{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s3cr\x01t\"}", "here"),
                    "here: credentials response is not valid JSON (at byte 43)");
  // Nested 20,000 deep: refused before it is parsed, with where.
  const std::string deep = R"({"AccessKeyId":"a","SecretAccessKey":"b","x":)" +
                           std::string(20'000, '[') + std::string(20'000, ']') + "}";
  CHECK_THROWS_WITH(parse_container_credentials(deep, "here"),
                    "here: credentials response: JSON nested deeper than 512 levels at byte 556");
  CHECK_THROWS_WITH(parse_container_credentials(
                        R"({"AccessKeyId":"a","SecretAccessKey":"b","Expiration":"soon"})", "here"),
                    "here: Expiration \"soon\" is not an ISO 8601 time");
}

}  // namespace
}  // namespace tandem::storage
