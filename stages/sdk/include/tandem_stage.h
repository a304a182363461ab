/* The stage SDK's C ABI (libtandem_stage.so.1): serve a tandem stage, over HTTP (SageMaker's
 * container contract: GET /ping, POST /invocations) and over the shared-memory channel
 * tandem hands a `transport: shm` stage, from any language that can call C: C itself,
 * Python (ctypes: stages/python/tandem_python/abi.py), Rust, Go. It is the C++ SDK's server
 * (stages/sdk/stage.h) behind a handful of functions; docs/stages.md, "The C ABI", has the
 * rules and an example.
 *
 * Stability: TANDEM_STAGE_ABI_VERSION is 1, the library's SONAME is libtandem_stage.so.1 and
 * its symbols carry the version TANDEM_STAGE_1. Within version 1, functions and struct
 * fields are only ever added (new fields at the end of a struct the library fills), never
 * changed or removed; a change that breaks a caller bumps all three.
 *
 * Ownership: everything the library hands the handler (the request and its bytes, the
 * response object) is valid only during that handler call; the library copies whatever the
 * handler passes to tandem_stage_respond. Text is bytes as received (HTTP headers are
 * ISO-8859-1 on the wire), not NUL-terminated: use `size`.
 *
 * Threads: the handler and the ping function are called on the library's server threads,
 * several at once (`threads` of them), so they must be thread-safe. */
#ifndef TANDEM_STAGE_H
#define TANDEM_STAGE_H

#include <stddef.h>

#if defined(__GNUC__)
#define TANDEM_STAGE_API __attribute__((visibility("default")))
#else
#define TANDEM_STAGE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define TANDEM_STAGE_ABI_VERSION 1

/* The ABI version of the loaded library: compare it with TANDEM_STAGE_ABI_VERSION. */
TANDEM_STAGE_API int tandem_stage_abi_version(void);

/* `size` bytes at `data` (not NUL-terminated; `data` may be NULL when `size` is 0). */
typedef struct {
  const char* data;
  size_t size;
} tandem_stage_bytes;

/* One POST /invocations (or shared-memory request). Absent headers are empty. */
typedef struct {
  tandem_stage_bytes body;
  tandem_stage_bytes content_type;      /* Content-Type, verbatim */
  tandem_stage_bytes accept;            /* Accept */
  tandem_stage_bytes custom_attributes; /* X-Amzn-SageMaker-Custom-Attributes */
  tandem_stage_bytes inference_id;      /* X-Amzn-SageMaker-Inference-Id */
  tandem_stage_bytes traceparent;       /* W3C Trace Context */
} tandem_stage_request;

/* The answer being built for one request: owned by the library. */
typedef struct tandem_stage_response tandem_stage_response;

/* The handler answers by calling this (the last call wins); the bytes are copied. `status`
 * must be 200-599 (another answers 500 saying so). `content_type` NULL sends no Content-Type;
 * `custom_attributes` NULL sends no X-Amzn-SageMaker-Custom-Attributes. Both are
 * NUL-terminated. `body` may be NULL when `body_size` is 0. */
TANDEM_STAGE_API void tandem_stage_respond(tandem_stage_response* response, int status,
                                           const char* content_type, const char* body,
                                           size_t body_size, const char* custom_attributes);

/* Called once per request. A handler that returns without calling tandem_stage_respond
 * answers 500 "the handler gave no answer". It may block (a model); it must not unwind
 * (C++ exception, Rust panic, longjmp) through the library. */
typedef void (*tandem_stage_handler)(void* user_data, const tandem_stage_request* request,
                                     tandem_stage_response* response);

/* Called on every GET /ping: nonzero answers 200, zero 503. */
typedef int (*tandem_stage_ping_fn)(void* user_data);

typedef struct tandem_stage_server tandem_stage_server;

/* Reads the options from the environment exactly like the C++ SDK's from_environment()
 * (SAGEMAKER_BIND_TO_PORT, TANDEM_STAGE_HOST, TANDEM_STAGE_THREADS, the TANDEM_SHM_*
 * descriptors), then: `threads` 1-1024 overrides the number of server threads (0 keeps the
 * environment's; more than 1024 is an error); `reuse_port` nonzero sets SO_REUSEPORT, so several
 * processes can serve one port. `ping` may be NULL (always healthy). `user_data` is passed to both
 * callbacks. Binds and listens (and maps the shared-memory channel, if one was inherited). On
 * failure returns NULL and writes a one-line, NUL-terminated message into `error` (`error_size`
 * bytes; `error` may be NULL). */
TANDEM_STAGE_API tandem_stage_server* tandem_stage_server_new(tandem_stage_handler handler,
                                                              tandem_stage_ping_fn ping,
                                                              void* user_data, unsigned threads,
                                                              int reuse_port, char* error,
                                                              size_t error_size);

/* The port the server listens on (useful with SAGEMAKER_BIND_TO_PORT=0). */
TANDEM_STAGE_API int tandem_stage_server_port(const tandem_stage_server* server);

/* Serves HTTP, and the shared-memory channel if one was inherited, until SIGTERM or SIGINT
 * (the library installs handlers for both; a second signal has its default effect) or
 * tandem_stage_server_stop; then drains: stops accepting and claiming, lets the requests in
 * progress finish. Returns 0 when all finished within the drain timeout (20 s); 1 when a
 * handler still runs, in which case the process should exit at once (tandem_stage_server_free
 * would wait for that handler). Call once. Blocks the calling thread, which runs no handler. */
TANDEM_STAGE_API int tandem_stage_server_run(tandem_stage_server* server);

/* Makes tandem_stage_server_run drain and return. Thread-safe, idempotent, returns at once;
 * not async-signal-safe (do not call it from a signal handler). */
TANDEM_STAGE_API void tandem_stage_server_stop(tandem_stage_server* server);

/* Closes the server and frees it. Call after tandem_stage_server_run returned (or instead of
 * running it), never from a handler. NULL is ignored. */
TANDEM_STAGE_API void tandem_stage_server_free(tandem_stage_server* server);

/* In the parent of several worker processes that share the inherited shared-memory channel
 * (each serving it through its own server): once worker `pid` has exited, completes every
 * slot it had taken and not answered with `status` and the text/plain `message`, and wakes
 * tandem, so those requests fail at once instead of holding their slots forever. Needs no
 * server: it maps the segment named by TANDEM_SHM_FD and leaves the inherited descriptors
 * open and inheritable. Returns how many slots it completed, or -1 (message in `error`) if
 * there is no channel or it cannot be mapped. */
TANDEM_STAGE_API int tandem_stage_shm_fail_taken(int pid, int status, const char* message,
                                                 char* error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* TANDEM_STAGE_H */
