// The C++ stage SDK: turns a function from Request to Response into a process that speaks
// SageMaker's container contract (GET /ping and POST /invocations over HTTP/1.1 on
// SAGEMAKER_BIND_TO_PORT), so a pipeline stage is a few lines of code. Started by tandem for a
// stage with `transport: shm`, it also serves the shared-memory channel it inherits (see
// docs/shm.md) with the same handler; /ping and /invocations stay on HTTP.
//
//   int main() {
//     return tandem::stage::serve([](const tandem::stage::Request& request) {
//       return tandem::stage::Response{.body = request.body, .content_type = "text/csv"};
//     });
//   }
//
// This header carries no Boost: stage authors compile against plain standard types.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace tandem::stage {

// One POST /invocations as the handler sees it. Absent headers are empty strings.
struct Request {
  std::string body;
  std::string content_type;       // Content-Type, verbatim (parameters included)
  std::string accept;             // Accept
  std::string custom_attributes;  // X-Amzn-SageMaker-Custom-Attributes
  std::string inference_id;       // X-Amzn-SageMaker-Inference-Id
  std::string traceparent;        // W3C Trace Context (traceparent), as the client sent it
};

// The handler's answer. `status` must be 200-599; an empty `content_type` sends no header;
// `custom_attributes` is sent as X-Amzn-SageMaker-Custom-Attributes only when set.
struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/octet-stream";
  std::optional<std::string> custom_attributes;
};

// Called once per invocation, possibly on several threads at once (one per connection being
// served), so it must be thread-safe. It may block (a model, a sleep).
using Handler = std::function<Response(const Request&)>;

// Thrown by a handler to answer `status` (usually a 4xx) with `message` as a text/plain body.
// Any other exception answers 500 with its what().
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

// The descriptors of a shared-memory channel inherited from tandem (TANDEM_SHM_FD,
// TANDEM_SHM_SUBMIT_FD, TANDEM_SHM_COMPLETE_FD).
struct ShmChannel {
  int segment = -1;
  int submit = -1;
  int complete = -1;
};

struct Options {
  // Loopback by default: stages are reached by the orchestrator on the same host.
  std::string host = "127.0.0.1";
  // 0 binds a free port; read it from Server::port() or on_listening.
  std::uint16_t port = 8080;
  // Larger request bodies are answered 413 (100 MiB: SageMaker's largest batch payload).
  std::size_t max_body_bytes = std::size_t{100} * 1024 * 1024;
  // Connections beyond this are closed as soon as they are accepted.
  std::size_t max_connections = 1024;
  // Time allowed for the next request on a connection to arrive, and for its body.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Time allowed for a response to be written.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(60);
  // On stop, how long in-flight requests may take to finish. Below SageMaker's 30 s between
  // SIGTERM and SIGKILL, so a stage exits on its own.
  std::chrono::milliseconds drain_timeout = std::chrono::seconds(20);
  // Requests served at once. Each thread runs one handler at a time, so this many handlers
  // may block in parallel; further requests wait for a thread.
  unsigned threads = 16;
  // Threads serving the shared-memory channel; 0: as many as `threads`. A process that runs
  // one request at a time (a Python worker) takes one slot at a time with 1, leaving the
  // others to its peers, while its HTTP threads stay free to answer /ping.
  unsigned shm_threads = 0;
  // Asked on every GET /ping: true answers 200. Empty means always healthy. Returning false
  // (or throwing) answers `unhealthy_status`.
  std::function<bool()> ping;
  int unhealthy_status = 503;
  // Serve this shared-memory channel too (from_environment() sets it when tandem passed one).
  std::optional<ShmChannel> shm;
  // Sets SO_REUSEPORT on the listening socket, so that several processes can serve one
  // port (the kernel spreads connections among them).
  bool reuse_port = false;
  // Called by Server::run() once the server accepts connections, with the bound port.
  std::function<void(std::uint16_t port)> on_listening;
};

// Options from the environment: SAGEMAKER_BIND_TO_PORT (default 8080), TANDEM_STAGE_HOST
// (default 127.0.0.1; e.g. 0.0.0.0), TANDEM_STAGE_THREADS (default 16),
// TANDEM_STAGE_SHM_THREADS (default: TANDEM_STAGE_THREADS), the TANDEM_SHM_*
// descriptors (all three or none). Throws
// std::invalid_argument naming every variable that has an invalid value.
Options from_environment();

// The TANDEM_SHM_* descriptors alone (nullopt when none is set), for a process that does not
// serve but looks after the channel, such as the parent of several worker processes. Throws
// std::invalid_argument like from_environment().
std::optional<ShmChannel> shm_channel_from_environment();

// The HTTP server behind serve(), for callers that need the bound port or to stop it
// without a signal (tests). The constructor binds and listens, so port() is known at once;
// it throws std::runtime_error naming host:port if that fails.
class Server {
 public:
  Server(Handler handler, Options options);
  ~Server();  // Joins the server threads; call only after run() returned true (or never ran).
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;
  // Makes SIGTERM and SIGINT call stop(); a second signal has its default effect.
  void stop_on_signals();
  // Serves until stop(), then drains: stops accepting, closes idle connections, lets
  // requests in progress finish. Returns true when all finished within drain_timeout; false
  // when some handler still runs, in which case the process should exit without destroying
  // the Server. Call once.
  bool run();
  // Thread-safe and idempotent; returns at once (run() does the draining).
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Serves `handler` until SIGTERM or SIGINT, then drains and returns the process exit code:
// 0 after a clean drain, 1 if listening failed (a line on stderr says why). When the drain
// times out it exits the process with status 1 at once. The first overload reads
// from_environment() and returns 2 on an invalid variable.
int serve(Handler handler);
int serve(Handler handler, Options options);

}  // namespace tandem::stage
