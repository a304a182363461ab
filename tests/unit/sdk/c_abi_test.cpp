// The C ABI (tandem_stage.h): a C handler served over HTTP, and the parent of several worker
// processes completing the slots of a worker that died, as tandem then reads them.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "tandem/proto/shm_segment.h"
#include "tandem_stage.h"
#include "test_client.h"

using namespace tandem::stage::testing;
namespace shm = tandem::proto::shm;

namespace {

// Sets environment variables for one test and restores them after.
class ScopedEnvironment {
 public:
  void set(const char* name, const std::string& value) {
    const char* old = std::getenv(name);
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first, it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first);
      }
    }
  }

 private:
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

void upper_case(void* user_data, const tandem_stage_request* request,
                tandem_stage_response* response) {
  ++*static_cast<int*>(user_data);
  std::string body(request->body.data, request->body.size);
  if (body == "silent") return;  // never answers
  for (auto& c : body) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  body += "|" + std::string(request->content_type.data, request->content_type.size);
  body += "|" + std::string(request->inference_id.data, request->inference_id.size);
  tandem_stage_respond(response, 201, "text/plain", "ignored", 7, nullptr);  // the last call wins
  tandem_stage_respond(response, 200, "text/csv", body.data(), body.size(), "seen=1");
}

int unhealthy(void*) {
  return 0;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

}  // namespace

TEST_CASE("a C handler answers over HTTP through the C ABI") {
  ScopedEnvironment environment;
  environment.set("SAGEMAKER_BIND_TO_PORT", "0");
  CHECK(tandem_stage_abi_version() == TANDEM_STAGE_ABI_VERSION);
  int calls = 0;
  char error[256] = "";
  tandem_stage_server* server =
      tandem_stage_server_new(upper_case, unhealthy, &calls, 2, 1, error, sizeof error);
  REQUIRE(server != nullptr);
  const int port = tandem_stage_server_port(server);
  REQUIRE(port > 0);
  int status = -1;
  std::thread runner([&] { status = tandem_stage_server_run(server); });

  {
    TestClient client(static_cast<std::uint16_t>(port));
    auto request = make_request(http::verb::post, "/invocations", "a,b");
    request.set(http::field::content_type, "text/csv");
    request.set("X-Amzn-SageMaker-Inference-Id", "id-1");
    const auto answer = client.send(std::move(request));
    CHECK(answer.result_int() == 200);
    CHECK(answer.body() == "A,B|text/csv|id-1");
    CHECK(answer[http::field::content_type] == "text/csv");
    CHECK(answer["X-Amzn-SageMaker-Custom-Attributes"] == "seen=1");

    const auto silent = client.send(make_request(http::verb::post, "/invocations", "silent"));
    CHECK(silent.result_int() == 500);
    CHECK(silent.body() == "the handler gave no answer");

    CHECK(client.send(make_request(http::verb::get, "/ping")).result_int() == 503);
  }
  CHECK(calls == 2);
  tandem_stage_server_stop(server);
  runner.join();
  CHECK(status == 0);
  tandem_stage_server_free(server);
}

TEST_CASE("the C ABI says why a server cannot start") {
  ScopedEnvironment environment;
  environment.set("SAGEMAKER_BIND_TO_PORT", "not-a-port");
  char error[256] = "";
  CHECK(tandem_stage_server_new(upper_case, nullptr, nullptr, 0, 0, error, sizeof error) ==
        nullptr);
  CHECK(std::string(error) ==
        "SAGEMAKER_BIND_TO_PORT: expected a port number 0-65535, got \"not-a-port\"");
  // A message longer than the caller's buffer is cut, and terminated.
  char small[8];
  CHECK(tandem_stage_server_new(upper_case, nullptr, nullptr, 0, 0, small, sizeof small) ==
        nullptr);
  CHECK(std::string(small) == "SAGEMAK");
  // A thread count beyond TANDEM_STAGE_THREADS's bound, before any thread is started.
  environment.set("SAGEMAKER_BIND_TO_PORT", "0");
  CHECK(tandem_stage_server_new(upper_case, nullptr, nullptr, 4000000000u, 0, error,
                                sizeof error) == nullptr);
  CHECK(std::string(error) ==
        "tandem_stage_server_new: threads must be 0 (the environment's) or 1-1024, got "
        "4000000000");
}

TEST_CASE("the parent completes the slots a dead worker had taken, and wakes tandem", "[shm]") {
  auto segment =
      shm::Segment::create({.slot_count = 3, .request_capacity = 64, .response_capacity = 64});
  int submit[2], complete[2];
  REQUIRE(pipe2(submit, O_CLOEXEC) == 0);
  REQUIRE(pipe2(complete, O_NONBLOCK) == 0);  // inheritable, as the parent got it
  const shm::UniqueFd submit_read(submit[0]), submit_write(submit[1]);
  const shm::UniqueFd completions(complete[0]), complete_write(complete[1]);
  // The descriptors as a worker's parent inherited them: open, not close-on-exec.
  const shm::UniqueFd inherited_segment(dup(segment.fd()));
  ScopedEnvironment environment;
  environment.set("TANDEM_SHM_FD", std::to_string(inherited_segment.get()));
  environment.set("TANDEM_SHM_SUBMIT_FD", std::to_string(submit_read.get()));
  environment.set("TANDEM_SHM_COMPLETE_FD", std::to_string(complete_write.get()));

  auto& ring = segment.ring();
  for (std::uint32_t slot = 0; slot < 3; ++slot) {
    REQUIRE_FALSE(ring.submit(slot, 10 + slot, shm::RequestView{.body = "x", .inference_id = ""}));
  }
  const std::uint32_t dead = 4242, alive = 4343;
  REQUIRE(ring.take(0, dead));
  REQUIRE(ring.take(1, alive));
  CHECK(ring.claimant(0) == dead);
  // Slot 2 stays submitted: no worker holds it, another one will claim it.
  ring.announce_sleep(shm::Ring::Side::tandem);  // tandem waits for answers

  char error[256] = "";
  CHECK(tandem_stage_shm_fail_taken(static_cast<int>(dead), 503, "worker 4242 exited", error,
                                    sizeof error) == 1);
  CHECK(readable(completions.get()));
  ring.retract_sleep(shm::Ring::Side::tandem);

  const auto answer = ring.collect(0, 10);
  REQUIRE(answer);
  REQUIRE(answer->kind == shm::Completion::Kind::response);
  CHECK(answer->response.status == 503);
  CHECK(answer->response.body == "worker 4242 exited");
  CHECK(answer->response.content_type == "text/plain");
  CHECK_FALSE(answer->response.custom_attributes);
  CHECK(ring.state(1) == shm::SlotState::taken);  // the live worker's slot is left alone
  CHECK(ring.state(2) == shm::SlotState::submitted);
  CHECK(ring.claimant(1) == alive);

  // Nothing left to fail; the inherited descriptors stay open and inheritable.
  CHECK(tandem_stage_shm_fail_taken(static_cast<int>(dead), 503, "again", error, sizeof error) ==
        0);
  CHECK(fcntl(inherited_segment.get(), F_GETFD) == 0);
  CHECK(fcntl(complete_write.get(), F_GETFD) == 0);

  // A completed slot no longer names its claimant: a later claim starts from 0.
  ring.complete(1, shm::ResponseView{.status = 200, .body = "ok"});
  CHECK(ring.claimant(1) == 0);
}

TEST_CASE("failing a dead worker's slots needs a channel") {
  ScopedEnvironment environment;
  environment.set("TANDEM_SHM_FD", "");
  environment.set("TANDEM_SHM_SUBMIT_FD", "");
  environment.set("TANDEM_SHM_COMPLETE_FD", "");
  char error[256] = "";
  CHECK(tandem_stage_shm_fail_taken(1, 503, "gone", error, sizeof error) == -1);
  CHECK(std::string(error) ==
        "no shared-memory channel: TANDEM_SHM_FD, TANDEM_SHM_SUBMIT_FD and "
        "TANDEM_SHM_COMPLETE_FD are not set");
}
