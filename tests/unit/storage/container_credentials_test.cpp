// Container credentials fetched from a stand-in for the ECS/EKS agent: a small Python HTTP
// server on a loopback port it picks itself. Never the real agent's address.
#include <catch2/catch.hpp>
#include <map>

#include "pipeline/storage/credentials.h"
#include "pipeline/storage/object_store.h"
#include "pipeline/storage/s3_store.h"
#include "tests/unit/storage/moto_fixture.h"

namespace tandem::storage {
namespace {

using namespace std::chrono_literals;

// /creds answers with credentials to the right token (401 otherwise); /flaky fails its first
// request with 503; /down always 500; /denied always 403; /hits reports the count per path.
// HEAD of any path plays S3, answering 200 only to a request with the session token, signed.
constexpr const char* kAgent = R"PY(
import http.server, json, sys
hits = {}
class Agent(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path == "/hits": return self.answer(200, json.dumps(hits))
        if self.path == "/down": return self.answer(500, "agent is down")
        if self.path == "/denied": return self.answer(403, "not for you")
        if self.path == "/flaky" and hits[self.path] == 1: return self.answer(503, "try again")
        if self.headers.get("Authorization") != "Bearer s3cret": return self.answer(401, "bad token")
        self.answer(200, json.dumps({"AccessKeyId": "ASIAFROMAGENT", "SecretAccessKey": "agent-secret",
                                     "Token": "agent-token", "Expiration": "2099-01-01T00:00:00Z"}))
    def do_HEAD(self):  # a stand-in S3: is the session token sent, and signed?
        signed = "x-amz-security-token" in self.headers.get("Authorization", "").split("SignedHeaders=")[-1]
        ok = signed and self.headers.get("x-amz-security-token") == "agent-token"
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args): pass
server = http.server.HTTPServer(("127.0.0.1", 0), Agent)
print("port", server.server_address[1], flush=True)
server.serve_forever()
)PY";

struct Agent {
  testing::TempDir dir;
  std::unique_ptr<testing::ChildProcess> process;
  std::string base;

  // False (after a WARN) when there is no python3 to run the agent with.
  bool start() {
    std::optional<std::string> python = testing::find_on_path("python3");
    if (!python) {
      WARN("python3 is not on PATH: skipping the container credentials test");
      return false;
    }
    process = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{*python, "-c", kAgent}, std::vector<std::string>{},
        dir.path() / "agent.log");
    std::optional<std::string> port = process->wait_for_output(std::regex(R"(port (\d+))"), 30s);
    if (!port) FAIL("the Python credentials agent did not start:\n" << process->log());
    base = "http://127.0.0.1:" + *port;
    return true;
  }

  std::string hits() {
    CurlEasy curl;
    return curl.perform(HttpRequest{.url = base + "/hits"}).body;
  }
};

CredentialProvider provider(const std::string& url,
                            const std::string& authorization = "Bearer s3cret") {
  return CredentialProvider(ContainerCredentialsEndpoint{url, authorization}, RetryPolicy{3, 1ms});
}

TEST_CASE("container credentials are fetched with the authorization token", "[credentials]") {
  Agent agent;
  if (!agent.start()) return;
  AwsCredentials credentials = provider(agent.base + "/creds").current();
  CHECK(credentials.access_key_id == "ASIAFROMAGENT");
  CHECK(credentials.secret_access_key == "agent-secret");
  CHECK(credentials.session_token == "agent-token");

  CHECK_THROWS_WITH(provider(agent.base + "/creds", "Bearer wrong").current(),
                    "container credentials from " + agent.base +
                        "/creds: GET failed: 401 Unauthorized: bad token");
}

TEST_CASE("container credentials: 5xx is retried, 4xx is not", "[credentials][retry]") {
  Agent agent;
  if (!agent.start()) return;
  CHECK(provider(agent.base + "/flaky").current().access_key_id == "ASIAFROMAGENT");
  CHECK_THROWS_WITH(
      provider(agent.base + "/down").current(),
      "container credentials from " + agent.base +
          "/down: GET failed: 500 Internal Server Error: agent is down (after 3 tries)");
  CHECK_THROWS_WITH(provider(agent.base + "/denied").current(),
                    "container credentials from " + agent.base +
                        "/denied: GET failed: 403 Forbidden: not for you");
  CHECK(agent.hits() == R"({"/flaky": 2, "/down": 3, "/denied": 1, "/hits": 1})");
}

TEST_CASE("container credentials are fetched once while valid", "[credentials]") {
  Agent agent;
  if (!agent.start()) return;
  CredentialProvider shared = provider(agent.base + "/creds");
  for (int i = 0; i < 5; ++i) CHECK(shared.current().session_token == "agent-token");
  CHECK(agent.hits() == R"({"/creds": 1, "/hits": 1})");
}

TEST_CASE("the session token goes to S3 as a signed x-amz-security-token", "[credentials][s3]") {
  Agent agent;
  if (!agent.start()) return;
  S3Config config{agent.base, "us-east-1",
                  ContainerCredentialsEndpoint{agent.base + "/creds", "Bearer s3cret"}, "test"};
  CHECK(S3Store(config, "bucket").exists("key"));
  config.credentials = AwsCredentials{"AKID", "secret", "another-token", std::nullopt};
  CHECK_THROWS_WITH(S3Store(config, "bucket").exists("key"),
                    "s3://bucket/key: HEAD failed: 403 Forbidden");
  config.credentials = ContainerCredentialsEndpoint{agent.base + "/denied", ""};
  CHECK_THROWS_WITH(S3Store(config, "bucket").exists("key"),
                    "s3://bucket/key: HEAD failed: container credentials from " + agent.base +
                        "/denied: GET failed: 403 Forbidden: not for you");
}

TEST_CASE("an S3 store signs with credentials from the container endpoint", "[credentials][moto]") {
  testing::MotoServer* moto = testing::MotoServer::shared();
  if (!moto) return;
  Agent agent;
  if (!agent.start()) return;
  std::map<std::string, std::string> env = {
      {"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.base + "/creds"},
      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer s3cret"},
      {"AWS_ENDPOINT_URL_S3", moto->endpoint()}};
  S3Config config = resolve_s3_config(
      [&](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional(it->second);
      },
      [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  S3Store store(config, testing::fresh_bucket_name());
  testing::create_bucket(store);
  testing::put_object(store, "a", "from the container");
  CHECK(testing::read_all(*store.open("a")) == "from the container");
  CHECK(agent.hits() ==
        R"({"/creds": 1, "/hits": 1})");  // one fetch serves the store and its streams
}

}  // namespace
}  // namespace tandem::storage
