// The C ABI (include/tandem_stage.h) over the C++ SDK's Server: a C handler wrapped as a
// tandem::stage::Handler. No exception crosses the ABI: every entry point catches.
#include "tandem_stage.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "stages/sdk/shm_server.h"
#include "stages/sdk/stage.h"

struct tandem_stage_response {
  tandem::stage::Response response;
  bool answered = false;
};

struct tandem_stage_server {
  std::unique_ptr<tandem::stage::Server> server;
};

namespace {

using tandem::stage::Request;
using tandem::stage::Response;

void write_error(char* error, std::size_t error_size, std::string_view message) {
  if (error == nullptr || error_size == 0) return;
  const std::size_t n = std::min(message.size(), error_size - 1);
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

tandem_stage_bytes bytes_of(const std::string& text) {
  return tandem_stage_bytes{text.data(), text.size()};
}

tandem::stage::Handler wrap(tandem_stage_handler handler, void* user_data) {
  return [handler, user_data](const Request& request) {
    const tandem_stage_request view{
        bytes_of(request.body),         bytes_of(request.content_type),
        bytes_of(request.accept),       bytes_of(request.custom_attributes),
        bytes_of(request.inference_id), bytes_of(request.traceparent)};
    tandem_stage_response answer;
    handler(user_data, &view, &answer);
    if (!answer.answered) {
      return Response{
          .status = 500, .body = "the handler gave no answer", .content_type = "text/plain"};
    }
    return std::move(answer.response);
  };
}

}  // namespace

extern "C" {

int tandem_stage_abi_version(void) {
  return TANDEM_STAGE_ABI_VERSION;
}

void tandem_stage_respond(tandem_stage_response* response, int status, const char* content_type,
                          const char* body, size_t body_size, const char* custom_attributes) {
  if (response == nullptr) return;
  try {
    auto& r = response->response;
    r.status = status;
    r.body.assign(body == nullptr ? "" : body, body == nullptr ? 0 : body_size);
    r.content_type = content_type == nullptr ? "" : content_type;
    r.custom_attributes =
        custom_attributes == nullptr ? std::nullopt : std::optional<std::string>(custom_attributes);
    response->answered = true;
  } catch (const std::exception&) {  // out of memory: the handler's answer is lost
    response->response = Response{.status = 500,
                                  .body = "the stage ran out of memory copying its answer",
                                  .content_type = "text/plain"};
    response->answered = true;
  }
}

tandem_stage_server* tandem_stage_server_new(tandem_stage_handler handler,
                                             tandem_stage_ping_fn ping, void* user_data,
                                             unsigned threads, int reuse_port, char* error,
                                             size_t error_size) {
  if (handler == nullptr) {
    write_error(error, error_size, "tandem_stage_server_new: no handler");
    return nullptr;
  }
  if (threads > 1024) {  // TANDEM_STAGE_THREADS's bound
    write_error(error, error_size,
                ("tandem_stage_server_new: threads must be 0 (the environment's) or 1-1024, got " +
                 std::to_string(threads))
                    .c_str());
    return nullptr;
  }
  try {
    auto options = tandem::stage::from_environment();
    if (threads > 0) options.threads = threads;
    options.reuse_port = reuse_port != 0;
    if (ping != nullptr) options.ping = [ping, user_data] { return ping(user_data) != 0; };
    auto server = std::make_unique<tandem_stage_server>();
    server->server =
        std::make_unique<tandem::stage::Server>(wrap(handler, user_data), std::move(options));
    return server.release();
  } catch (const std::exception& failure) {
    write_error(error, error_size, failure.what());
    return nullptr;
  }
}

int tandem_stage_server_port(const tandem_stage_server* server) {
  return server == nullptr ? -1 : server->server->port();
}

int tandem_stage_server_run(tandem_stage_server* server) {
  if (server == nullptr) return 1;
  try {
    server->server->stop_on_signals();
    return server->server->run() ? 0 : 1;
  } catch (const std::exception& failure) {
    std::fprintf(stderr, "stage: %s\n", failure.what());
    return 1;
  }
}

void tandem_stage_server_stop(tandem_stage_server* server) {
  if (server != nullptr) server->server->stop();
}

void tandem_stage_server_free(tandem_stage_server* server) {
  delete server;
}

int tandem_stage_shm_fail_taken(int pid, int status, const char* message, char* error,
                                size_t error_size) {
  try {
    const auto channel = tandem::stage::shm_channel_from_environment();
    if (!channel) {
      write_error(error, error_size,
                  "no shared-memory channel: TANDEM_SHM_FD, TANDEM_SHM_SUBMIT_FD and "
                  "TANDEM_SHM_COMPLETE_FD are not set");
      return -1;
    }
    if (pid <= 0) {
      write_error(error, error_size, "tandem_stage_shm_fail_taken: pid must be positive");
      return -1;
    }
    return static_cast<int>(tandem::stage::fail_taken(*channel, static_cast<std::uint32_t>(pid),
                                                      status, message == nullptr ? "" : message));
  } catch (const std::exception& failure) {
    write_error(error, error_size, failure.what());
    return -1;
  }
}

}  // extern "C"
