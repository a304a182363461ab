"""A small SageMaker-contract stage for the batch-transform tests (standard library only, so
it starts in a few milliseconds). Listens on SAGEMAKER_BIND_TO_PORT, keeps connections
alive, answers GET /ping and POST /invocations. Its behaviour comes from the environment:

  BATCH_STAGE_MODE=echo|sum|first
                              echo (default) answers the body as received; first answers
                              its first line only; sum answers, for
                              each line, the sum of its CSV fields ("3.5"), or for a JSON
                              line {"sum": 3.5} of the list it is, or of its "values" list
  BATCH_STAGE_FAIL_ON=TEXT    answer 500 to a body containing TEXT
  BATCH_STAGE_TRANSIENT=N     answer 503 to the first N invocations
  BATCH_STAGE_JITTER_MS=N     sleep a random 0..N ms before answering
  BATCH_STAGE_DELAY_MS=N      sleep N ms before answering
  BATCH_STAGE_EXEC_PARAMS=J   answer GET /execution-parameters with the JSON J (else 404)
  BATCH_STAGE_RECORD=PATH     append one JSON line per invocation: body size, whether it came
                              chunked, content type, accept, the SAGEMAKER_* environment
"""
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("BATCH_STAGE_MODE", "echo")
FAIL_ON = os.environ.get("BATCH_STAGE_FAIL_ON", "").encode()
TRANSIENT = int(os.environ.get("BATCH_STAGE_TRANSIENT", "0"))
JITTER_MS = int(os.environ.get("BATCH_STAGE_JITTER_MS", "0"))
DELAY_MS = int(os.environ.get("BATCH_STAGE_DELAY_MS", "0"))
EXEC_PARAMS = os.environ.get("BATCH_STAGE_EXEC_PARAMS")
RECORD = os.environ.get("BATCH_STAGE_RECORD")

_lock = threading.Lock()
_count = 0


def _sum_line(line: bytes, json_lines: bool) -> bytes:
    if json_lines:
        value = json.loads(line)
        values = value if isinstance(value, list) else value["values"]
        return json.dumps({"sum": sum(values)}).encode()
    return repr(float(sum(float(v) for v in line.split(b",")))).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_chunked(self) -> bytes:
        pieces = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(pieces)
            pieces.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after the chunk

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/ping":
            self._answer(200, b"")
        elif self.path == "/execution-parameters" and EXEC_PARAMS:
            self._answer(200, EXEC_PARAMS.encode(), "application/json")
        else:
            self._answer(404, b"not found")

    def do_POST(self):  # noqa: N802
        global _count
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        body = self._read_chunked() if chunked else self.rfile.read(
            int(self.headers.get("Content-Length", "0")))
        with _lock:
            _count += 1
            number = _count
        content_type = self.headers.get("Content-Type", "application/octet-stream")
        if RECORD:
            entry = {"bytes": len(body), "content_type": content_type, "chunked": chunked,
                     "accept": self.headers.get("Accept"),
                     "env": {k: v for k, v in os.environ.items() if k.startswith("SAGEMAKER_")}}
            with _lock, open(RECORD, "a") as f:
                f.write(json.dumps(entry) + "\n")
        if DELAY_MS:
            time.sleep(DELAY_MS / 1000)
        if JITTER_MS:
            time.sleep(random.uniform(0, JITTER_MS) / 1000)
        if number <= TRANSIENT:
            self._answer(503, b"warming up, try again")
            return
        if FAIL_ON and FAIL_ON in body:
            self._answer(500, b"cannot score a poisoned record")
            return
        if MODE == "sum":
            json_lines = "json" in content_type
            lines = [line for line in body.split(b"\n") if line.strip()]
            out = b"\n".join(_sum_line(line.rstrip(b"\r"), json_lines) for line in lines)
            self._answer(200, out, "application/jsonlines" if json_lines else "text/csv")
            return
        if MODE == "first":
            self._answer(200, body.split(b"\n")[0] + b"\n", content_type)
            return
        self._answer(200, body, content_type)


def main() -> None:
    if sys.argv[1:] != ["serve"]:
        sys.exit("usage: batch_stage.py serve")
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
