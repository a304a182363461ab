"""tandem_python.abi, the ctypes binding of libtandem_stage: a Python handler served by the
SDK's server in a stage process of its own (abi_stage.py), over HTTP directly and over
shared memory through `tandem serve`; and the binding's errors.

The library is the build's (<TANDEM_BIN_DIR>/../lib, default build/asan); a sanitizer build of
it is loaded with its runtime preloaded, as Python itself is not instrumented."""
import http.client
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "stages" / "python"))

from harness import TandemFactory, bin_dir, wait_until  # noqa: E402
from tandem_python import abi  # noqa: E402

PYTHON = "/usr/bin/python3"
STAGE = Path(__file__).resolve().parent / "abi_stage.py"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def library() -> Path:
    path = bin_dir().parent / "lib" / abi.LIBRARY_NAME
    if not path.is_file():
        pytest.fail(f"no {path}; build the target tandem_stage_c", pytrace=False)
    return path


def sanitizer_runtimes(lib: Path) -> list[str]:
    """The sanitizer runtimes `lib` needs (ASan must come first in the process)."""
    listing = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"=> (\S*lib(?:asan|ubsan|tsan)\.so\S*)", listing)


def stage_env(**extra: str) -> dict[str, str]:
    lib = library()
    env = {"PYTHONPATH": str(REPO / "stages" / "python"), "TANDEM_STAGE_LIBRARY": str(lib)}
    runtimes = sanitizer_runtimes(lib)
    if runtimes:
        # CPython's own allocations are not freed at exit: no leak report for them.
        env.update(LD_PRELOAD=":".join(runtimes), ASAN_OPTIONS="detect_leaks=0")
    env.update(extra)
    return env


class StageProcess:
    """abi_stage.py serving HTTP on a free port; its stderr in a file."""

    def __init__(self, tmp_path: Path, **env: str):
        self.log_path = tmp_path / "stage.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON, str(STAGE)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env={**os.environ, **stage_env(SAGEMAKER_BIND_TO_PORT="0", **env)})
        found = wait_until(lambda: re.search(r"abi stage listening on (\d+)", self.log()), 20,
                           "the stage to listen")
        self.port = int(found.group(1))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body, headers or {})
            res = conn.getresponse()
            return res.status, dict(res.getheaders()), res.read()
        finally:
            conn.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def stage(tmp_path):
    started = []

    def start(**env):
        started.append(StageProcess(tmp_path, **env))
        return started[-1]

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


def test_python_handler_answers_over_http(stage):
    process = stage()
    status, headers, body = process.request("POST", "/invocations", b"abc,1", {
        "Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "id-7",
        "traceparent": TRACEPARENT})
    assert (status, body) == (200, b"1,cba"), process.log()
    assert headers["Content-Type"] == "text/csv"
    assert headers["X-Amzn-SageMaker-Custom-Attributes"] == f"ct=text/csv;id=id-7;tp={TRACEPARENT}"

    # No Content-Type in, none out; a body with every byte value crosses unchanged.
    everything = bytes(range(256))
    status, headers, body = process.request("POST", "/invocations", everything)
    assert (status, body) == (200, everything[::-1])
    assert "Content-Type" not in headers

    status, headers, body = process.request("POST", "/invocations", b"fail")
    assert status == 500
    assert headers["Content-Type"] == "text/plain"
    assert body == b"stage handler failed: ValueError: asked to fail"
    assert "ValueError: asked to fail" in process.log()  # the traceback, for the stage's log

    assert process.request("GET", "/ping")[0] == 200
    assert process.stop() == 0
    assert "stage: received SIGTERM, draining" in process.log()


def test_ping_callback_decides_health(stage):
    process = stage(ABI_STAGE_UNHEALTHY="1")
    assert process.request("GET", "/ping")[0] == 503
    assert process.stop() == 0


def test_a_server_that_cannot_start_raises_oserror_with_the_reason():
    script = ("from tandem_python import abi\n"
              "try:\n    abi.Server(lambda r: (200, b'', None, None))\n"
              "except OSError as e:\n    print('refused:', e)\n")
    done = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **stage_env(SAGEMAKER_BIND_TO_PORT="http")})
    assert done.stdout == ('refused: SAGEMAKER_BIND_TO_PORT: expected a port number 0-65535, '
                           'got "http"\n'), done.stderr


def test_fail_taken_without_a_channel_raises_oserror():
    script = ("from tandem_python import abi\n"
              "try:\n    abi.fail_taken(12345, 500, 'gone')\n"
              "except OSError as e:\n    print('refused:', e)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_SHM_")}
    done = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**env, **stage_env()})
    assert done.stdout.startswith("refused: no shared-memory channel"), done.stderr


def test_load_library_names_where_it_looked(tmp_path):
    missing = tmp_path / "libtandem_stage.so.1"
    with pytest.raises(OSError, match=r"cannot load the tandem stage library .*"
                                      + re.escape(str(missing))):
        abi.load_library(str(missing))


@pytest.fixture
def tandem_factory(tmp_path):
    factory = TandemFactory(tmp_path)
    yield factory
    problems = factory.stop_all()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_python_handler_answers_over_shm_through_tandem(tandem_factory):
    tandem = tandem_factory({"name": "abi-shm", "stages": [{
        "name": "py", "transport": "shm", "command": [PYTHON, str(STAGE)], "env": stage_env()}]})
    tandem.wait_for_log(r"py \| stage serving shared memory \(\d+ slots\)")
    for size in (0, 1, 1000, 1 << 20):
        payload = os.urandom(size)
        res = tandem.invoke(payload, "application/octet-stream",
                            headers={"X-Amzn-SageMaker-Inference-Id": "id-shm",
                                     "traceparent": TRACEPARENT})
        assert res.status == 200, res
        assert res.body == payload[::-1]
        assert res.header("Content-Type") == "application/octet-stream"
    assert res.header("X-Amzn-SageMaker-Custom-Attributes") == \
        f"ct=application/octet-stream;id=id-shm;tp={TRACEPARENT}"
    failed = tandem.invoke(b"fail", "text/plain")
    assert failed.status == 424, failed
    assert "asked to fail" in failed.body.decode()
    assert "stage: shm invocation answered 500" in tandem.log()
