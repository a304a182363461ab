"""Helpers for tandem's integration tests: real `tandem serve` and stage processes on loopback.

`tandem_factory(spec)` writes the spec into the test's tmp_path, starts
`tandem serve spec --port 0 --host 127.0.0.1` with the build's bin folder first on PATH,
captures its stderr (the log) to a file, and waits (polling, with a deadline) for the
`serving on http://HOST:PORT` line. At teardown every tandem still running gets SIGTERM and
must exit 0 (SIGKILL after a timeout, then the test fails), and every stage process it
started must be gone.

The build is found through TANDEM_BIN_DIR (ctest sets it), else build/asan/bin in the repo.
"""
from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__).resolve().parent / "helpers"
LOGGING_STAGE = HELPERS / "logging_stage.py"
FLASK_STAGE = REPO_ROOT / "tests" / "stages" / "serve_flask"

# Tandem is built with ASan in the test build: start-up and shutdown are slower than usual.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0

# Stage ports: every tandem started by this process gets its own block of the range below
# 32768, where Linux hands out no ephemeral ports (32768-60999), so neither a client socket
# nor another test run in parallel by ctest picks a stage's port between tandem's check and
# the stage's bind. Blocks are derived from the pid and a counter.
PORT_LOW, PORT_HIGH, PORT_BLOCK = 20000, 32760, 40
_port_blocks = itertools.count()


def next_port_range() -> str:
    blocks = (PORT_HIGH - PORT_LOW) // PORT_BLOCK
    block = (os.getpid() * 37 + next(_port_blocks)) % blocks
    low = PORT_LOW + block * PORT_BLOCK
    return f"{low}-{low + PORT_BLOCK - 1}"


def bin_dir() -> Path:
    configured = os.environ.get("TANDEM_BIN_DIR")
    path = Path(configured) if configured else REPO_ROOT / "build" / "asan" / "bin"
    return path.resolve()


def tandem_exe() -> Path:
    exe = bin_dir() / "tandem"
    if not os.access(exe, os.X_OK):
        pytest.fail(f"no tandem executable at {exe}; build it or set TANDEM_BIN_DIR", pytrace=False)
    return exe


def process_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SAGEMAKER_BIND_TO_PORT", None)  # tests pass --port 0; a stray value must not matter
    env.update(extra)
    return env


# --- stages -------------------------------------------------------------------------------


def identity(name: str | None = None, *, spec: dict | None = None, **knobs) -> dict:
    """A tandem-identity stage. Keyword arguments are its TANDEM_IDENTITY_<KNOB> variables
    (delay_ms=500 sets TANDEM_IDENTITY_DELAY_MS=500); `spec` adds stage keys of the spec
    (content_type, accept, timeout_s, ...)."""
    stage: dict = {"command": ["tandem-identity", "serve"]}
    if name is not None:
        stage["name"] = name
    if knobs:
        stage["env"] = {f"TANDEM_IDENTITY_{k.upper()}": str(v) for k, v in knobs.items()}
    stage.update(spec or {})
    return stage


def logging_stage(name: str, delay_ms: int = 0, **settings) -> dict:
    """The Python stage in helpers/logging_stage.py: logs `received invocation N` first."""
    env = {"LOGGING_STAGE_DELAY_MS": str(delay_ms)}
    for key, value in settings.pop("env", {}).items():
        env[key] = str(value)
    return {"name": name, "command": [sys.executable, str(LOGGING_STAGE), "serve"], "env": env,
            **settings}


def flask_stage(name: str, **settings) -> dict:
    if not os.access(FLASK_STAGE, os.X_OK):
        pytest.fail(f"the Flask stage {FLASK_STAGE} is missing or not executable", pytrace=False)
    return {"name": name, "command": [str(FLASK_STAGE), "serve"], **settings}


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    elapsed_s: float = 0.0

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return (f"<Response {self.status} {self.reason} headers={dict(self.headers.items())} "
                f"body={self.body[:600]!r}>")


def http_request(host: str, port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None, timeout: float = 30.0) -> Response:
    """One request on its own connection."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        start = time.monotonic()
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        data = res.read()
        return Response(res.status, res.reason, res.headers, data, time.monotonic() - start)
    finally:
        conn.close()


def read_response(conn: http.client.HTTPConnection) -> Response:
    res = conn.getresponse()
    return Response(res.status, res.reason, res.headers, res.read())


# --- processes ----------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie has exited; only its parent
    has not collected it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid` (a stage and whatever it forked)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def wait_until(predicate: Callable[[], object], timeout: float,
               what: str | Callable[[], str], interval: float = 0.02):
    """Polls `predicate` until it returns something truthy (returned) or `timeout` passes
    (the test fails, naming `what`, or what `what()` says at that moment)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout} s waiting for {described}", pytrace=False)
        time.sleep(interval)


STARTED_RE = re.compile(r"stage '([^']+)' \((container-\d+)\) started: pid (\d+), port (\d+)")
SERVING_RE = re.compile(r"serving on http://([0-9.]+):(\d+)")


@dataclass
class Tandem:
    """One `tandem serve` process and its log."""
    proc: subprocess.Popen
    spec_path: Path
    log_path: Path
    name: str
    host: str = ""
    port: int = 0
    # Checked at teardown: the exit status SIGTERM must produce; None skips the check (the
    # test ended the process itself and checked what it wanted).
    expected_exit: int | None = 0
    stage_pids_seen: set[int] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, timeout: float = 10.0, after: int = 0) -> re.Match:
        """Waits for a regex to appear in the log (from character offset `after`)."""
        regex = re.compile(pattern)

        def found():
            return regex.search(self.log(), after)

        deadline = time.monotonic() + timeout
        while True:
            match = found()
            if match:
                return match
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s waiting for /{pattern}/ in tandem's log; "
                            f"its last lines:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.02)

    def log_size(self) -> int:
        return len(self.log())

    def stage_pids(self) -> dict[str, int]:
        """The latest pid of every stage, from the `started: pid N` lines."""
        pids = {}
        for m in STARTED_RE.finditer(self.log()):
            pids[m.group(1)] = int(m.group(3))
            self.stage_pids_seen.add(int(m.group(3)))
        return pids

    def stage_ports(self) -> dict[str, int]:
        return {m.group(1): int(m.group(4)) for m in STARTED_RE.finditer(self.log())}

    # HTTP
    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, timeout: float = 30.0) -> Response:
        return http_request(self.host, self.port, method, path, body, headers, timeout)

    def invoke(self, body: bytes = b"1,2,3", content_type: str | None = "text/csv",
               headers: dict | None = None, path: str = "/invocations",
               timeout: float = 30.0) -> Response:
        all_headers = {}
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        return self.request("POST", path, body, all_headers, timeout)

    def ping(self) -> Response:
        return self.request("GET", "/ping", timeout=10)

    def wait_ping(self, status: int, timeout: float = 20.0) -> Response:
        """Polls GET /ping until it answers `status`; returns that response."""
        last = {}

        def check():
            try:
                res = self.ping()
            except OSError as e:
                last["r"] = repr(e)
                return None
            last["r"] = res
            return res if res.status == status else None

        deadline = time.monotonic() + timeout
        while True:
            res = check()
            if res:
                return res
            if time.monotonic() > deadline:
                pytest.fail(f"GET /ping did not answer {status} within {timeout} s; last: "
                            f"{last.get('r')}\nlog:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.01)

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    # lifecycle
    def wait_serving(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            match = SERVING_RE.search(self.log())
            if match:
                self.host, self.port = match.group(1), int(match.group(2))
                self.stage_pids()
                return
            if self.proc.poll() is not None:
                pytest.fail(f"tandem exited with {self.proc.returncode} before serving; its log:\n"
                            f"{self.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"tandem did not log 'serving on' within {timeout} s; its log:\n"
                            f"{self.log_tail()}", pytrace=False)
            time.sleep(0.02)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"tandem did not exit within {timeout} s; killed it. Log:\n"
                        f"{self.log_tail()}", pytrace=False)

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int:
        if self.proc.poll() is None:
            self.stage_pids()
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)


def write_spec(directory: Path, spec: dict | str, file_name: str = "pipeline.yaml") -> Path:
    path = directory / file_name
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False))
    return path


def complete_spec(spec: dict) -> dict:
    """Adds what every test spec needs: its own stage port range and short stop timeouts."""
    spec = json.loads(json.dumps(spec))  # deep copy
    server = spec.setdefault("server", {})
    server.setdefault("stage_port_range", next_port_range())
    server.setdefault("host", "127.0.0.1")
    server.setdefault("drain_timeout_s", 10)
    server.setdefault("stage_stop_timeout_s", 5)
    return spec


class TandemFactory:
    def __init__(self, directory: Path):
        self.directory = directory
        self.started: list[Tandem] = []
        self._count = itertools.count()

    def launch(self, spec: dict, *, complete: bool = True, env: dict | None = None,
               args: Iterable[str] = ("--port", "0", "--host", "127.0.0.1")) -> Tandem:
        """Starts tandem without waiting for it to serve."""
        n = next(self._count)
        workdir = self.directory / f"tandem-{n}"
        workdir.mkdir()
        if complete:
            spec = complete_spec(spec)
        spec_path = write_spec(workdir, spec)
        log_path = workdir / "tandem.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen([str(tandem_exe()), "serve", str(spec_path), *args],
                                    stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, env=process_env(**(env or {})),
                                    cwd=workdir)
        tandem = Tandem(proc, spec_path, log_path, spec.get("name", ""))
        self.started.append(tandem)
        return tandem

    def __call__(self, spec: dict, **kwargs) -> Tandem:
        """Starts tandem and waits until it serves."""
        tandem = self.launch(spec, **kwargs)
        tandem.wait_serving()
        return tandem

    def stop_all(self) -> list[str]:
        problems = []
        for tandem in self.started:
            running = tandem.proc.poll() is None
            if running:
                try:
                    code = tandem.terminate()
                except pytest.fail.Exception as e:  # did not exit: already killed
                    problems.append(str(e))
                    continue
            else:
                code = tandem.proc.returncode
            tandem.stage_pids()
            if running and tandem.expected_exit is not None and code != tandem.expected_exit:
                problems.append(f"tandem '{tandem.name}' exited with {code} on SIGTERM, expected "
                                f"{tandem.expected_exit}; log:\n{tandem.log_tail()}")
            deadline = time.monotonic() + 10
            left = [p for p in tandem.stage_pids_seen if pid_alive(p)]
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = [p for p in left if pid_alive(p)]
            if left:
                problems.append(f"stage processes {left} of tandem '{tandem.name}' outlived it")
                for pid in left:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
        return problems


# --- assertions ---------------------------------------------------------------------------

SERVER_TIMING_ENTRY = r"{name};dur=\d+\.\d{{3}}"


def assert_server_timing(res: Response, stages: list[str]) -> None:
    """Server-Timing names exactly `stages` in order, then overhead and total."""
    value = res.header("Server-Timing")
    assert value is not None, f"no Server-Timing header: {res}"
    names = [*stages, "overhead", "total"]
    pattern = ", ".join(SERVER_TIMING_ENTRY.format(name=re.escape(n)) for n in names)
    assert re.fullmatch(pattern, value), f"Server-Timing {value!r} does not list {names}"


def assert_error(res: Response, status: int, error_type: str, message: str | re.Pattern,
                 **fields) -> dict:
    """An error answer: status, x-amzn-ErrorType, JSON body with Message (exact text or a
    regex matched in full) and other exact fields. Returns the body."""
    assert res.status == status, res
    assert res.header("x-amzn-ErrorType") == error_type, res
    assert res.header("Content-Type") == "application/json", res
    body = res.json()
    if isinstance(message, re.Pattern):
        assert message.fullmatch(body.get("Message", "")), (message.pattern, body)
    else:
        assert body.get("Message") == message, body
    for key, value in fields.items():
        assert body.get(key) == value, (key, body)
    return body
