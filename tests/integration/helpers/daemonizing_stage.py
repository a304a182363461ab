#!/usr/bin/env python3
"""A stage whose launcher leaves a process behind outside its session, as daemonizing serving
launchers do, then serves the SageMaker container contract itself.

Environment:

  DAEMON_STAGE_KIND=setsid       fork a child that calls setsid() and keeps running
  DAEMON_STAGE_KIND=double_fork  the classic daemon: fork, setsid, fork again; the middle
                                 process exits, so the daemon is orphaned at once
  DAEMON_STAGE_RECORD            a file that gets one JSON line per event:
                                   {"event": "started", "launcher": pid, "daemon": pid,
                                    "alive_from_before": [pids]}  (daemons of earlier starts
                                    still running when this one started)
                                   {"event": "daemon got SIGTERM", "daemon": pid}
  DAEMON_STAGE_DAEMON_IGNORES_SIGTERM=1  the daemon ignores SIGTERM (only SIGKILL stops it)
  DAEMON_STAGE_DAEMON_LISTEN=ADDRESS     the daemon listens on ADDRESS, a port of its own
                                         choosing, before the launcher serves ("daemon_port"
                                         in the started event)

POST /invocations echoes the body; a body of `crash` makes the launcher exit with status 3
at once (its daemon lives on). Standard library only.
"""
import http.server
import json
import os
import signal
import socket
import sys
import time

KIND = os.environ.get("DAEMON_STAGE_KIND", "setsid")
RECORD = os.environ["DAEMON_STAGE_RECORD"]
DAEMON_IGNORES_SIGTERM = os.environ.get("DAEMON_STAGE_DAEMON_IGNORES_SIGTERM") == "1"
DAEMON_LISTEN = os.environ.get("DAEMON_STAGE_DAEMON_LISTEN")


def record(**event) -> None:
    with open(RECORD, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def earlier_daemons() -> list[int]:
    try:
        with open(RECORD, encoding="utf-8") as f:
            events = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
    return [e["daemon"] for e in events if e["event"] == "started"]


def daemon_main() -> None:
    """Runs forever in its own session, until a signal ends it."""
    if DAEMON_IGNORES_SIGTERM:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        def on_term(*_):
            record(event="daemon got SIGTERM", daemon=os.getpid())
            os._exit(0)
        signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        time.sleep(3600)


def start_daemon() -> tuple[int, int]:
    """Forks the daemon the way KIND says; returns its pid and the port it listens on (0:
    none)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.setsid()
        if KIND == "double_fork":
            if os.fork() != 0:
                os._exit(0)  # the middle process: the daemon is orphaned
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
        port = 0
        if DAEMON_LISTEN:
            listener = socket.socket()
            listener.bind((DAEMON_LISTEN, 0))
            listener.listen()
            port = listener.getsockname()[1]
        os.write(write_end, f"{os.getpid()} {port}".encode())
        os.close(write_end)
        daemon_main()
    os.close(write_end)
    daemon, port = (int(n) for n in os.read(read_end, 64).split())
    os.close(read_end)
    if KIND == "double_fork":
        os.waitpid(pid, 0)
    return daemon, port


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._answer(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if body == b"crash":
            print("crashing on purpose", flush=True)
            os._exit(3)
        self._answer(200, body)


def main() -> int:
    if KIND not in ("setsid", "double_fork"):
        sys.stderr.write(f"unknown DAEMON_STAGE_KIND {KIND!r}\n")
        return 2
    leftovers = [pid for pid in earlier_daemons() if alive(pid)]
    daemon, port = start_daemon()
    record(event="started", launcher=os.getpid(), daemon=daemon, alive_from_before=leftovers,
           daemon_port=port)
    print(f"launcher {os.getpid()} started daemon {daemon} ({KIND})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
