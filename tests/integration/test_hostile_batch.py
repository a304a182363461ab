"""Hostile inputs to `tandem transform`'s reading path: a record far larger than memory should
allow under MaxPayloadInMB 0, and a gzip bomb whose request the stage refuses.

- A one-line record of 512 MiB with MaxPayloadInMB 0 (SageMaker's "stream the payload") is
  streamed to the stage without being held: tandem's peak resident memory stays far below the
  record's size.
- A record that has to be held whole under MaxPayloadInMB 0 (here: an InputFilter needs it) is
  refused past 100 MiB, the error naming the object, the record and its offset, and the limit.
- A gzip bomb (gigabytes of lines from a few megabytes) sent to a stage that refuses large
  bodies (413): tandem stops reading the object when its request fails, instead of inflating the
  rest; the object is reported failed with the stage's answer.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from harness import identity, process_env
from transform_support import batch_stage, pipeline, transform_command

MIB = 1024 * 1024

# A stage that reads a chunked body as it comes (never holding it) and answers its size and
# its number of line breaks: "bytes=N newlines=K".
COUNTING_STAGE = r'''
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        size = newlines = 0

        def count(piece):
            nonlocal size, newlines
            size += len(piece)
            newlines += piece.count(b"\n")

        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                length = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                while length > 0:
                    piece = self.rfile.read(min(length, 1 << 20))
                    count(piece)
                    length -= len(piece)
                self.rfile.readline()
        else:
            length = int(self.headers.get("Content-Length", "0"))
            while length > 0:
                piece = self.rfile.read(min(length, 1 << 20))
                count(piece)
                length -= len(piece)
        self._answer(200, b"bytes=%d newlines=%d" % (size, newlines))


HTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
'''


def counting_stage(directory: Path) -> dict:
    script = directory / "counting_stage.py"
    script.write_text(COUNTING_STAGE)
    return {"name": "count", "command": [sys.executable, str(script)]}


def write_repeated(path: Path, block: bytes, count: int, tail: bytes = b"") -> int:
    with open(path, "wb") as f:
        for _ in range(count):
            f.write(block)
        f.write(tail)
    return len(block) * count + len(tail)


def peak_rss_env() -> dict:
    # The ASan build keeps freed memory in a quarantine (256 MiB by default), which would count
    # as resident; a small one keeps the figure about tandem's own buffers. Ignored otherwise.
    options = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": f"{options}:quarantine_size_mb=16".lstrip(":")}


def run_measured(directory: Path, spec: dict, *args: str, env: dict | None = None,
                 timeout: float = 240) -> tuple[int, str, dict | None, int, float]:
    """Runs `tandem transform`, sampling its peak resident memory (VmHWM) until it exits.
    Returns the exit code, the log, the report, the peak in KiB and the seconds it ran."""
    command, report = transform_command(directory, spec, list(args))
    log_path = directory / f"{report.stem}.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, env=process_env(**(env or {})), stdout=log, stderr=log)
        peak = 0
        deadline = started + timeout
        while proc.poll() is None:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                pass
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError(f"tandem transform still running after {timeout} s")
            time.sleep(0.02)
    seconds = time.monotonic() - started
    data = json.loads(report.read_text()) if report.exists() else None
    return proc.returncode, log_path.read_text(), data, peak, seconds


def only_object(report: dict | None, log: str) -> dict:
    assert report is not None, log
    [entry] = report["Objects"]
    return entry


def streamed_job(directory: Path, *args: str) -> list[str]:
    return ["--input", str(directory / "in"), "--output", str(directory / "out"),
            "--content-type", "text/csv", "--split-type", "Line", "--strategy", "MultiRecord",
            "--max-payload-mb", "0", *args]


@pytest.fixture(scope="module")
def baseline_peak_kib(tmp_path_factory) -> int:
    """tandem's peak resident memory for a streamed 1 MiB object: what the process costs
    whatever it reads (about 190 MiB in the ASan build, mostly its own mapped image and
    ASan's shadow). The tests below bound what a large input adds to it."""
    directory = tmp_path_factory.mktemp("baseline")
    (directory / "in").mkdir()
    write_repeated(directory / "in/small.csv", b"x" * MIB, 1, b"\n")
    code, log, _, peak_kib, _ = run_measured(directory, pipeline(counting_stage(directory)),
                                             *streamed_job(directory), env=peak_rss_env())
    assert code == 0, log
    return peak_kib


def test_a_512_mib_one_line_record_is_streamed_without_being_held(tmp_path, baseline_peak_kib):
    (tmp_path / "in").mkdir()
    size = write_repeated(tmp_path / "in/one-line.csv", b"x" * MIB, 512, b"\n")
    code, log, report, peak_kib, _ = run_measured(
        tmp_path, pipeline(counting_stage(tmp_path)), *streamed_job(tmp_path),
        env=peak_rss_env())
    assert code == 0, log
    entry = only_object(report, log)
    assert (entry["Records"], entry["Requests"]) == (1, 1), entry
    # The stage received the whole record, in one streamed request.
    assert (tmp_path / "out/one-line.csv.out").read_bytes() == b"bytes=%d newlines=1" % size
    added_mib = (peak_kib - baseline_peak_kib) // 1024
    print(f"peak RSS for a {size}-byte one-line record: {peak_kib // 1024} MiB, "
          f"{added_mib} MiB over a 1 MiB object's")
    # Holding the record would add at least its 512 MiB.
    assert added_mib < 64, f"tandem peaked at {peak_kib // 1024} MiB"


def test_a_held_record_over_100_mib_is_refused_naming_object_record_and_offset(tmp_path):
    # An InputFilter needs each record whole, so with MaxPayloadInMB 0 a record is held, and
    # capped at 100 MiB rather than held whatever its size.
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in/wide.csv", "wb") as f:
        f.write(b"a,b\nc,")
        for _ in range(101):
            f.write(b"y" * MIB)
        f.write(b"\n")
    code, log, report, _, _ = run_measured(tmp_path, pipeline(batch_stage("echo")),
                                           *streamed_job(tmp_path, "--input-filter", "$[1]"))
    assert code == 1, log
    failure = only_object(report, log)["Failure"]
    assert failure["Error"] == "InputError", failure
    assert failure["Message"].startswith(
        "record 1 (byte offset 4): larger than the limit of 104857600 bytes (100 MiB); with "
        "MaxPayloadInMB 0 a record is held whole"), failure
    assert f"{tmp_path / 'in/wide.csv'}: FAILED" in log, log
    assert not (tmp_path / "out/wide.csv.out").exists()


def gzip_bomb(path: Path, inflated_gib: int) -> int:
    """`inflated_gib` GiB of zero bytes (one line without a line break) as concatenated gzip
    members of 64 MiB each, compressed once and written again and again (about 1000:1).
    Returns the compressed size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
    member = compressor.compress(bytes(64 * MIB)) + compressor.flush()
    return write_repeated(path, member, inflated_gib * 1024 // 64)


def test_a_gzip_bomb_stops_being_read_when_its_request_fails(tmp_path, baseline_peak_kib):
    (tmp_path / "in").mkdir()
    compressed = gzip_bomb(tmp_path / "in/bomb.csv.gz", 10)
    # The stage SDK refuses a body past its 100 MiB limit (413) and closes the connection.
    code, log, report, peak_kib, seconds = run_measured(
        tmp_path, pipeline(identity("limited")), *streamed_job(tmp_path, "--compression", "Gzip"),
        env=peak_rss_env())
    assert code == 1, log
    entry = only_object(report, log)
    failure = entry["Failure"]
    assert (failure["Error"], failure["Stage"]) == ("ModelError", "limited"), failure
    added_mib = (peak_kib - baseline_peak_kib) // 1024
    print(f"gzip bomb: read {entry['BytesRead']} of {compressed} compressed bytes, job "
          f"{seconds:.1f} s, peak RSS {peak_kib // 1024} MiB ({added_mib} MiB over a 1 MiB "
          f"object's); failure: {failure['Message']}")
    # Reading stopped with the request, a little past the stage's 100 MiB: about 1 % of the
    # bomb's 10 GiB, not all of it (which took 80 s per GiB, holding it, before).
    assert entry["BytesRead"] < compressed // 4, entry
    assert added_mib < 64, f"tandem peaked at {peak_kib // 1024} MiB"
    assert not (tmp_path / "out/bomb.csv.gz.out").exists()
