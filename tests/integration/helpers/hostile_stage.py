"""A stage that breaks HTTP on purpose, on raw sockets, to attack tandem from behind: it
listens on SAGEMAKER_BIND_TO_PORT, reads each request, and answers POST /invocations (and,
once the file named by --ping-file exists, GET /ping) the way its mode says:

  trailer    a chunked answer whose trailer field is 65,536 bytes long
  extension  a chunk header "3;" followed by endless bytes (at most 1 GiB, 60 s)
  stray      its answer "a<N>" (N counts requests), then a whole second response "stray"
  chars      "h\u00e9llo" with a Content-Length that counts characters (5), not bytes (6)
  interim    100 Continue and 103 Early Hints, then its answer "ok"
  plain      "ok"

Pings answer 200 until the --ping-file exists, then in the mode's way (plain: 200).

    hostile_stage.py MODE [--ping-file PATH]
"""
import argparse
import os
import socket
import threading
import time

TRAILER_FIELD = b"X-T: " + b"a" * 65536 + b"\r\n"


def read_request(conn: socket.socket, pending: bytes) -> tuple[bytes, bytes] | None:
    """One request's head (start line and headers) and what followed it; None at EOF."""
    while b"\r\n\r\n" not in pending:
        data = conn.recv(65536)
        if not data:
            return None
        pending += data
    head, _, rest = pending.partition(b"\r\n\r\n")
    headers = head.lower()
    if b"transfer-encoding: chunked" in headers:
        while b"0\r\n\r\n" not in rest:
            data = conn.recv(65536)
            if not data:
                return None
            rest += data
        rest = rest.split(b"0\r\n\r\n", 1)[1]
    else:
        length = 0
        for line in headers.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(rest) < length:
            data = conn.recv(65536)
            if not data:
                return None
            rest += data
        rest = rest[length:]
    return head, rest


def endless(conn: socket.socket, prefix: bytes) -> None:
    conn.sendall(prefix)
    chunk = b"x" * 65536
    deadline = time.monotonic() + 60
    for _ in range(16384):  # 1 GiB at most
        if time.monotonic() > deadline:
            break
        conn.sendall(chunk)


def answer(conn: socket.socket, mode: str, count: int) -> None:
    if mode == "trailer":
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"
                     b"2\r\nok\r\n0\r\n" + TRAILER_FIELD + b"\r\n")
    elif mode == "extension":
        endless(conn, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;")
    elif mode == "stray":
        body = f"a{count}".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body) +
                     b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray")
    elif mode == "chars":
        body = "h\u00e9llo"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) +
                     body.encode())
    elif mode == "interim":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n"
                     b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def serve(conn: socket.socket, mode: str, ping_file: str | None, counter) -> None:
    pending = b""
    with conn:
        while True:
            try:
                request = read_request(conn, pending)
                if request is None:
                    return
                head, pending = request
                if head.startswith(b"GET /ping"):
                    if ping_file and os.path.exists(ping_file) and mode != "plain":
                        answer(conn, mode, 0)
                    else:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    continue
                answer(conn, mode, next(counter))
            except OSError:
                return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("--ping-file")
    args = parser.parse_args()
    listener = socket.create_server(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])))
    counter = iter(range(1, 1 << 62))
    lock = threading.Lock()

    def next_count(_it=counter):
        with lock:
            return next(_it)

    class Counter:
        def __next__(self):
            return next_count()

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, args.mode, args.ping_file, Counter()),
                         daemon=True).start()


if __name__ == "__main__":
    main()
