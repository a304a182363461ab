#!/usr/bin/env python3
"""A stage that answers every invocation with a JSON object of the headers it received and
the body it was sent: {"headers": {lower-case name: value}, "body": "..."}. Behind another
such stage, the body is the previous stage's answer, so a client reads what every stage of
the chain received. SageMaker container contract; standard library only."""
import http.server
import json
import os
import signal
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/ping":
            self._answer(200, b"", "text/plain")
        else:
            self._answer(404, b"not found", "text/plain")

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        echo = {"headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace")}
        self._answer(200, json.dumps(echo).encode(), "application/json")


def main() -> int:
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
