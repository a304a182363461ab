// moto_server (an S3-compatible server) for the S3 tests: started on a port it picks itself
// (-p 0, read back from its log), polled until it accepts connections, stopped with the test
// process. Without moto_server on PATH the S3 tests WARN and skip.
#pragma once

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>

#include "pipeline/storage/s3_store.h"
#include "tests/unit/storage/test_support.h"

namespace tandem::storage::testing {

class MotoServer {
 public:
  // A server of its own; `extra_env` like "INITIAL_NO_AUTH_ACTION_COUNT=3". nullptr when
  // moto_server is not on PATH; fails the test when it is there but does not start.
  static std::unique_ptr<MotoServer> start(const std::vector<std::string>& extra_env = {}) {
    std::optional<std::string> program = find_on_path("moto_server");
    if (!program) return nullptr;
    auto server = std::unique_ptr<MotoServer>(new MotoServer(*program, extra_env));
    // Generous: moto imports every AWS service model at start, slowly on a busy machine.
    std::optional<std::string> port = server->process_.wait_for_output(
        std::regex(R"(Running on http://127\.0\.0\.1:(\d+))"), std::chrono::seconds(90));
    if (!port) FAIL("moto_server did not report its port; its output:\n" << server->process_.log());
    server->port_ = std::stoi(*port);
    if (!wait_until_connectable(server->port_, std::chrono::seconds(30))) {
      FAIL("moto_server reported port " << server->port_ << " but accepts no connection");
    }
    return server;
  }

  // One server shared by the tests that do not need a fresh one (each uses its own bucket).
  static MotoServer* shared() {
    static std::unique_ptr<MotoServer> server = start();
    if (!server)
      WARN("moto_server is not on PATH: skipping this S3 test (install moto[server] to run it)");
    return server.get();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_.log(); }

  // moto accepts any credentials unless told otherwise.
  S3Config config(AwsCredentials credentials = {"testing", "testing", "", std::nullopt}) const {
    return S3Config{endpoint(), "us-east-1", std::move(credentials), "test"};
  }

 private:
  MotoServer(const std::string& program, const std::vector<std::string>& extra_env)
      : process_({program, "-H", "127.0.0.1", "-p", "0"}, extra_env, log_dir_.path() / "moto.log") {
  }

  TempDir log_dir_;  // declared before process_: the log outlives the process writing it
  ChildProcess process_;
  int port_ = 0;
};

// A bucket name no other test uses.
inline std::string fresh_bucket_name() {
  static std::atomic<int> counter{0};
  return "tandem-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// CreateBucket is not part of ObjectStore: tests send it through the store's own client.
inline void create_bucket(S3Store& store) {
  store.client().send_ok({.operation = "CreateBucket", .method = "PUT"});
}

// Upload ids pending for `key` (ListMultipartUploads).
inline int pending_uploads(S3Store& store, const std::string& key) {
  S3Call call{.operation = "ListMultipartUploads", .method = "GET"};
  call.query = {{"uploads", ""}, {"prefix", key}};
  std::string body = store.client().send_ok(call).body;
  int count = 0;
  for (std::size_t at = body.find("<Upload>"); at != std::string::npos;
       at = body.find("<Upload>", at + 1))
    ++count;
  return count;
}

inline void put_object(ObjectStore& store, const std::string& key, const std::string& data) {
  auto output = store.create(key);
  output->write(data);
  output->commit();
}

}  // namespace tandem::storage::testing
