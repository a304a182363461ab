"""A stage that uses its SAGEMAKER_SAFE_PORT_RANGE the way AWS's TensorFlow Serving container
does: before it serves, it listens on the first two ports of the range (there, TF Serving's
gRPC and REST ports; here, plain listeners), and it refuses a range of fewer than 3 ports as
that container's serve.py does. Then it serves the contract on SAGEMAKER_BIND_TO_PORT:
GET /ping answers 200, POST /invocations answers its body followed by "|<name>". A port it
cannot bind stops it with the error (exit 1), as the real container's start-up would fail.

Environment:
  SAFE_STAGE_NAME=NAME       the suffix it appends (default "stage")
  SAFE_STAGE_SIDE_PORTS=N    how many ports of the safe range it listens on (default 2)
  SAFE_STAGE_CLOSE=1         close every connection after its answer, as gunicorn's sync
                             worker does, so each leaves the stage's port in TIME_WAIT
"""
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("SAFE_STAGE_NAME", "stage")
SIDE_PORTS = int(os.environ.get("SAFE_STAGE_SIDE_PORTS", "2"))
CLOSE = os.environ.get("SAFE_STAGE_CLOSE") == "1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0" if CLOSE else "HTTP/1.1"

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/invocations":
            self.answer(404, b"")
            return
        self.answer(200, body + b"|" + NAME.encode())

    def log_message(self, *args):
        pass


def side_listeners() -> list[socket.socket]:
    low, high = (int(p) for p in os.environ["SAGEMAKER_SAFE_PORT_RANGE"].split("-"))
    if low + 2 > high:
        sys.exit(f"not enough ports available in SAGEMAKER_SAFE_PORT_RANGE ({low}-{high})")
    listeners = []
    for port in range(low, low + SIDE_PORTS):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC and nginx do
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as e:
            sys.exit(f"cannot listen on safe port {port}: {e}")
        sock.listen(8)
        listeners.append(sock)
    return listeners


def main() -> None:
    kept = side_listeners()  # held open for the stage's life
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as e:
        sys.exit(f"cannot listen on SAGEMAKER_BIND_TO_PORT {port}: {e}")
    print(f"{NAME}: serving on {port}, listening on safe ports "
          f"{', '.join(str(s.getsockname()[1]) for s in kept)}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
