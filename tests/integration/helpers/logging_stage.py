#!/usr/bin/env python3
"""A stage for the integration tests that says what happens to it.

It follows the SageMaker container contract (listens on SAGEMAKER_BIND_TO_PORT, answers
GET /ping and POST /invocations) and prints one line per invocation *before* answering, so
a test can watch tandem's log (`<stage> | received invocation ...`) to know that a request
reached this stage, and that it did not reach it. Environment:

  LOGGING_STAGE_DELAY_MS            wait this long before answering an invocation
  LOGGING_STAGE_APPEND              append this text to the echoed body
  LOGGING_STAGE_EXECUTION_PARAMETERS  JSON answered on GET /execution-parameters (404 if unset)
  LOGGING_STAGE_SICK_FILE           while this file exists, GET /ping answers 500
  LOGGING_STAGE_IGNORE_SIGTERM=1    ignore SIGTERM (only SIGKILL stops it)
  LOGGING_STAGE_DROP_ON=N           on the Nth invocation, close the connection without an
                                    answer (a worker dying mid-request while the server lives)

Invocations answer the request body (plus the append) with the request's Content-Type.
Standard library only, so it runs under any python3.
"""
import http.server
import os
import signal
import socket
import sys
import threading
import time

DELAY_S = int(os.environ.get("LOGGING_STAGE_DELAY_MS", "0") or 0) / 1000.0
APPEND = os.environ.get("LOGGING_STAGE_APPEND", "").encode()
EXECUTION_PARAMETERS = os.environ.get("LOGGING_STAGE_EXECUTION_PARAMETERS")
SICK_FILE = os.environ.get("LOGGING_STAGE_SICK_FILE")
DROP_ON = int(os.environ.get("LOGGING_STAGE_DROP_ON", "0") or 0)

_count_lock = threading.Lock()
_count = 0


def log(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as tandem's pool expects of most stages

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one line per invocation is printed by do_POST; no access log

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/ping":
            sick = SICK_FILE is not None and os.path.exists(SICK_FILE)
            self._answer(500 if sick else 200, b"sick" if sick else b"")
        elif self.path == "/execution-parameters" and EXECUTION_PARAMETERS is not None:
            self._answer(200, EXECUTION_PARAMETERS.encode(), "application/json")
        else:
            self._answer(404, b"not found")

    def do_POST(self):  # noqa: N802
        global _count
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with _count_lock:
            _count += 1
            n = _count
        log(f"received invocation {n}: {len(body)} bytes, "
            f"inference id {self.headers.get('X-Amzn-SageMaker-Inference-Id', '-')}")
        if n == DROP_ON:
            log(f"dropping invocation {n}")
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if DELAY_S:
            time.sleep(DELAY_S)
        self._answer(200, body + APPEND, self.headers.get("Content-Type", ""))
        log(f"answered invocation {n}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] != "serve":
        sys.stderr.write("usage: logging_stage.py [serve]\n")
        return 2
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    if os.environ.get("LOGGING_STAGE_IGNORE_SIGTERM") == "1":
        signal.signal(signal.SIGTERM, lambda *_: log("ignoring SIGTERM"))
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    log(f"logging stage listening on 127.0.0.1:{port}")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
