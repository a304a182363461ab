"""Shared parts of the reliability suite (soak.py, chaos.py, batch_faults.py): real `tandem`
processes and their stages, their log read as events, /proc sampling, the pipelines under test,
and a list of checks that each pass or fail with a message.

Standard library only; runs with Debian's /usr/bin/python3.
"""
from __future__ import annotations

import datetime
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BREAST_CANCER = REPO / "examples" / "breast-cancer"


def default_bin() -> Path:
    configured = os.environ.get("TANDEM_BIN_DIR")
    return Path(configured).resolve() if configured else REPO / "build" / "release" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stage_port_range() -> str:
    """A block of 200 ports in 20000-31999, below the ephemeral range (32768+) so no client
    socket takes a stage's port; derived from the pid. 200: far more than 3 stages × (1 + 4) ports, so a port that something else holds never stops a
    start."""
    low = 20000 + 200 * (os.getpid() % 60)
    return f"{low}-{low + 199}"


# --- pipelines ----------------------------------------------------------------------------


def identity_spec(name: str, transport: str, *, timeout_s: float | None = None,
                  invocation_timeout_s: float | None = None) -> str:
    """Three tandem-identity stages s1, s2, s3; each appends `|sN`, so an answer shows it
    passed every stage once, in order."""
    lines = [f"name: {name}", "server:", "  host: 127.0.0.1", f"  stage_port_range: {stage_port_range()}",
             "  drain_timeout_s: 10", "  stage_stop_timeout_s: 5"]
    if invocation_timeout_s is not None:
        lines.append(f"  invocation_timeout_s: {invocation_timeout_s}")
    lines.append("stages:")
    for i in (1, 2, 3):
        lines += [f"  - name: s{i}", "    command: [tandem-identity, serve]",
                  f"    env: {{TANDEM_IDENTITY_APPEND: '|s{i}'}}", f"    transport: {transport}"]
        if timeout_s is not None:
            lines.append(f"    timeout_s: {timeout_s}")
    return "\n".join(lines) + "\n"


def breast_cancer_spec() -> str:
    """examples/breast-cancer/pipeline.yaml with absolute model folders and a private port range."""
    text = (BREAST_CANCER / "pipeline.yaml").read_text()
    text = re.sub(r"model_dir: (model/\S+)", lambda m: f"model_dir: {BREAST_CANCER / m.group(1)}", text)
    text = text.replace("server:\n  port: 8080\n",
                        f"server:\n  port: 8080\n  host: 127.0.0.1\n  stage_port_range: {stage_port_range()}\n"
                        "  drain_timeout_s: 10\n  stage_stop_timeout_s: 5\n")
    assert "stage_port_range" in text, "examples/breast-cancer/pipeline.yaml changed shape"
    return text


@dataclass
class Pipeline:
    key: str             # short name in tables
    title: str           # what it is, in the report
    spec: str            # YAML text
    body: bytes          # the request body sent under load
    content_type: str
    expected: bytes | None  # the exact answer, when known up front
    stages: list[str]


def pipelines(selected: list[str]) -> list[Pipeline]:
    kib = bytes((i * 7 + 3) % 26 + 97 for i in range(1024))
    row = (BREAST_CANCER / "heldout.csv").read_bytes().splitlines()[0] + b"\n"
    known = {
        "breast-cancer": lambda: Pipeline(
            "breast-cancer", "examples/breast-cancer (featurize, xgboost, postprocess; HTTP), 1 row",
            breast_cancer_spec(), row, "text/csv", None, ["featurize", "model", "postprocess"]),
        "identity-http": lambda: Pipeline(
            "identity-http", "3 tandem-identity stages over HTTP, 1 KiB",
            identity_spec("soak-http", "http"), kib, "application/octet-stream",
            kib + b"|s1|s2|s3", ["s1", "s2", "s3"]),
        "identity-shm": lambda: Pipeline(
            "identity-shm", "3 tandem-identity stages over shared memory, 1 KiB",
            identity_spec("soak-shm", "shm"), kib, "application/octet-stream",
            kib + b"|s1|s2|s3", ["s1", "s2", "s3"]),
    }
    unknown = [k for k in selected if k not in known]
    if unknown:
        sys.exit(f"unknown pipeline(s) {unknown}; known: {sorted(known)}")
    return [known[k]() for k in selected]


# --- tandem and its log ---------------------------------------------------------------------

LOG_TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ")
STARTED_RE = re.compile(r"stage '([^']+)' \(container-\d+\) started: pid (\d+), port (\d+)")
SERVING_RE = re.compile(r"serving on http://([0-9.]+):(\d+)")


def log_time(line: str) -> float | None:
    """The wall-clock time (seconds since the epoch) at the start of a log line."""
    m = LOG_TIME_RE.match(line)
    if not m:
        return None
    stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def log_events(text: str, pattern: str) -> list[tuple[float, re.Match]]:
    """Every log line matching `pattern`, with its time."""
    regex = re.compile(pattern)
    found = []
    for line in text.splitlines():
        m = regex.search(line)
        if m:
            t = log_time(line)
            if t is not None:
                found.append((t, m))
    return found


class Tandem:
    """`tandem serve SPEC --port 0` with the build's bin folder first on PATH; its log in a file."""

    def __init__(self, bin_dir: Path, spec_text: str, work: Path, name: str):
        self.work = work
        self.spec_path = work / f"{name}.yaml"
        self.spec_path.write_text(spec_text)
        self.log_path = work / f"{name}.log"
        env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("SAGEMAKER_BIND_TO_PORT", None)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(bin_dir / "tandem"), "serve", str(self.spec_path), "--port", "0", "--host", "127.0.0.1"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.host, self.port = "127.0.0.1", 0
        self.pids_seen: set[int] = set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_serving(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = SERVING_RE.search(self.log())
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"tandem exited with {self.proc.returncode} before serving:\n{self.log_tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"tandem did not serve within {timeout} s:\n{self.log_tail()}")

    def stage_pids(self) -> dict[str, int]:
        pids = {m.group(1): int(m.group(2)) for m in STARTED_RE.finditer(self.log())}
        self.pids_seen.update(pids.values())
        return pids

    def ping_status(self, timeout: float = 5) -> int:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", "/ping")
            res = conn.getresponse()
            res.read()
            return res.status
        finally:
            conn.close()

    def wait_ping(self, status: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.ping_status() == status:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM, then the exit status (None if it had to be SIGKILLed); every stage gone."""
        self.stage_pids()
        code: int | None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = None
        else:
            code = self.proc.returncode
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(pid_alive(p) for p in self.pids_seen):
            time.sleep(0.05)
        return code

    def stages_left(self) -> list[int]:
        return [p for p in self.pids_seen if pid_alive(p)]


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


# --- /proc sampling -------------------------------------------------------------------------


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def fd_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def fd_kinds(pid: int) -> Counter:
    """A process's open descriptors by kind: socket, pipe, memfd, anon_inode:[pidfd], file..."""
    kinds: Counter = Counter()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return kinds
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("/memfd:"):
            kinds["memfd"] += 1
        elif target.startswith("/"):
            kinds["file"] += 1
        else:
            kinds[target.split(":[")[0].split(":")[0] if not target.startswith("anon_inode:")
                  else target] += 1
    return kinds


class Sampler(threading.Thread):
    """Samples a process's resident memory and open descriptors every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int, int]] = []  # (monotonic time, RSS KiB, fds)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            rss, fds = rss_kib(self.pid), fd_count(self.pid)
            if rss is not None and fds is not None:
                self.samples.append((time.monotonic(), rss, fds))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def between(self, start: float, end: float) -> list[tuple[float, int, int]]:
        return [s for s in self.samples if start <= s[0] < end]


# --- checks and tables ----------------------------------------------------------------------


@dataclass
class Checks:
    """Named checks, each passed or failed with what was seen; the suite fails if any failed."""
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, seen: str) -> bool:
        self.results.append((name, bool(ok), seen))
        print(f"  [{'ok' if ok else 'FAILED'}] {name}: {seen}", flush=True)
        return bool(ok)

    def note(self, name: str, seen: str) -> None:
        """A figure reported but not checked (in the short runs: timings)."""
        self.results.append((name, None, seen))  # type: ignore[arg-type]
        print(f"  [info] {name}: {seen}", flush=True)

    @property
    def failed(self) -> list[tuple[str, bool, str]]:
        return [r for r in self.results if r[1] is False]

    def markdown(self) -> str:
        rows = ["| check | result | seen |", "|---|---|---|"]
        for name, ok, seen in self.results:
            verdict = "reported" if ok is None else ("met" if ok else "**not met**")
            rows.append(f"| {name} | {verdict} | {seen} |")
        return "\n".join(rows)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(pct / 100 * (len(ordered) - 1)))))
    return ordered[k]


def median(values):
    return statistics.median(values) if values else float("nan")


def machine_line() -> str:
    load = os.getloadavg()
    return (f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def finish(checks: Checks, report: list[str], markdown_out: str | None) -> int:
    text = "\n\n".join(report + [checks.markdown()]) + "\n"
    print()
    print(text)
    if markdown_out:
        with open(markdown_out, "a") as f:
            f.write(text + "\n")
    if checks.failed:
        print(f"{len(checks.failed)} check(s) failed:", file=sys.stderr)
        for name, _, seen in checks.failed:
            print(f"  - {name}: {seen}", file=sys.stderr)
        return 1
    return 0
