"""Hostile HTTP from both sides, on real processes: a client and a stage (helpers/
hostile_stage.py, raw sockets) that send what Beast's parser does not bound by itself (a
65,536-byte trailer field, a chunk extension without end), a stage whose answer carries more
bytes than its Content-Length, interim responses, a client flood of idle connections under
a low descriptor limit, a forged inference id in the text log, and the framing a server must
refuse or accept (RFC 9110 and 9112). docs/security.md lists each with its figure."""
from __future__ import annotations

import re
import resource
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import (HELPERS, Tandem, assert_error, complete_spec, identity, process_env,
                     tandem_exe, wait_until, write_spec)
from transform_support import pipeline, run_transform

HOSTILE_STAGE = HELPERS / "hostile_stage.py"
TRAILER = b"X-T: " + b"a" * 65536 + b"\r\n"


def hostile(mode: str, name: str = "evil", **settings) -> dict:
    command = [sys.executable, str(HOSTILE_STAGE), mode]
    if "ping_file" in settings:
        command += ["--ping-file", str(settings.pop("ping_file"))]
    return {"name": name, "command": command, **settings}


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    """Makes VmHWM start again from the current resident size (earlier tests' peaks)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def exchange(tandem: Tandem, data: bytes, timeout: float = 20) -> bytes:
    """Sends `data` (as much as tandem takes), then reads what it answers until it closes."""
    with socket.create_connection((tandem.host, tandem.port), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # tandem answered and closed before taking it all
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def status_line(raw: bytes) -> str:
    return raw.split(b"\r\n", 1)[0].decode()


def body_of(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2]


@pytest.fixture(scope="module")
def echo(module_tandem_factory):
    return module_tandem_factory({"name": "hostile", "stages": [identity("echo")]})


def assert_still_serving(tandem: Tandem) -> None:
    assert tandem.proc.poll() is None, tandem.log_tail()
    assert tandem.ping().status == 200
    res = tandem.invoke(b"1,2")
    assert (res.status, res.body) == (200, b"1,2"), res


# --- the client's framing -------------------------------------------------------------------


def test_a_client_trailer_field_over_64_kib_is_a_400_not_an_abort(echo):
    raw = exchange(echo, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n" + TRAILER + b"\r\n")
    assert status_line(raw) == "HTTP/1.1 400 Bad Request", raw[:300]
    assert (b'"Message":"malformed HTTP request: a chunk header with its extensions, or the '
            b'trailer fields, over 65535 bytes"') in body_of(raw)
    assert_still_serving(echo)


def test_a_trailer_under_the_cap_is_accepted(echo):
    raw = exchange(echo, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n3\r\n1,2\r\n0\r\nX-T: "
                         + b"a" * 1000 + b"\r\n\r\n")
    assert status_line(raw) == "HTTP/1.1 200 OK", raw[:300]
    assert body_of(raw) == b"1,2"


def test_an_endless_chunk_extension_is_cut_at_64_kib(echo):
    reset_peak(echo.proc.pid)
    before = vm_kib(echo.proc.pid, "VmRSS")
    start = time.monotonic()
    # Up to 256 MiB offered; tandem answers once 64 KiB of extension have arrived.
    head = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;")
    with socket.create_connection((echo.host, echo.port), timeout=20) as s:
        s.sendall(head)
        sent = 0
        while sent < 256 * 1024 * 1024 and not select.select([s], [], [], 0)[0]:
            s.sendall(b"x" * 65536)
            sent += 65536
        raw = s.recv(65536)
    elapsed = time.monotonic() - start
    grown_mib = (vm_kib(echo.proc.pid, "VmHWM") - before) / 1024
    print(f"endless chunk extension: answered after {sent} bytes, {elapsed:.2f} s, peak RSS "
          f"growth {grown_mib:.1f} MiB")
    assert status_line(raw) == "HTTP/1.1 400 Bad Request", raw[:300]
    assert sent < 32 * 1024 * 1024, "tandem kept reading the extension"
    assert grown_mib < 32, grown_mib
    assert_still_serving(echo)


@pytest.mark.parametrize("coding", ["gzip, chunked", "gzip", "chunked, chunked"])
def test_a_transfer_coding_other_than_chunked_is_501(echo, coding):
    raw = exchange(echo, b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                         + coding.encode() + b"\r\n\r\n1\r\na\r\n0\r\n\r\n")
    assert status_line(raw) == "HTTP/1.1 501 Not Implemented", raw[:300]
    assert (f'"Message":"Transfer-Encoding \'{coding}\' is not supported: send the body as it is '
            '(with Content-Length) or chunked"').encode() in body_of(raw), raw
    assert_still_serving(echo)


def test_an_expectation_other_than_100_continue_is_417(echo):
    res = echo.invoke(b"1,2", headers={"Expect": "200-ok"})
    assert_error(res, 417, "ValidationError",
                 "Expect '200-ok' cannot be met; the only expectation understood is 100-continue")


def test_an_absolute_form_target_is_served(echo):
    raw = exchange(echo, f"POST http://{echo.host}:{echo.port}/invocations HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: text/csv\r\nContent-Length: 3\r\n\r\n1,2".encode())
    assert status_line(raw) == "HTTP/1.1 200 OK", raw[:300]
    assert body_of(raw) == b"1,2"
    raw = exchange(echo, b"GET HTTP://x/ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_line(raw) == "HTTP/1.1 200 OK", raw[:300]


def test_two_target_container_hostnames_are_400(echo):
    raw = exchange(echo, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                         b"X-Amzn-SageMaker-Target-Container-Hostname: echo\r\n"
                         b"X-Amzn-SageMaker-Target-Container-Hostname: other\r\n\r\n1")
    assert status_line(raw) == "HTTP/1.1 400 Bad Request", raw[:300]
    assert (b'"Message":"X-Amzn-SageMaker-Target-Container-Hostname was sent 2 times; send it '
            b'once"') in body_of(raw)


def test_a_forged_inference_id_cannot_forge_the_text_log(echo):
    forged = 'x status=500 error="forged"'
    res = echo.invoke(b"1,2", headers={"X-Amzn-SageMaker-Inference-Id": forged})
    assert res.status == 200, res
    request_id = res.header("x-amzn-RequestId")
    line = echo.wait_for_log(r"invocation id=\"x status.*").group(0)
    assert re.fullmatch(r'invocation id="x status=500 error=\\"forged\\"" status=200 '
                        r'total=\S+ echo=\S+\(200\) request_id=' + request_id, line), line


# --- the stage's framing --------------------------------------------------------------------


def test_a_stage_trailer_field_over_64_kib_is_a_model_error(tandem_factory):
    tandem = tandem_factory({"name": "evil-trailer", "stages": [hostile("trailer")]})
    res = tandem.invoke(b"x")
    assert_error(res, 424, "ModelError",
                 "Received server error (0) from container-1 (stage 'evil') with message "
                 "\"malformed HTTP response: a chunk header with its extensions, or the trailer "
                 "fields, over 65535 bytes\". See the log of endpoint 'evil-trailer', lines "
                 "prefixed 'evil |' for more information.", Stage="evil")
    assert tandem.proc.poll() is None
    assert tandem.ping().status == 200


def test_a_stage_ping_with_a_trailer_over_64_kib_marks_it_unhealthy(tandem_factory, tmp_path):
    flag = tmp_path / "hostile-pings"
    tandem = tandem_factory({"name": "evil-ping",
                             "stages": [hostile("trailer", ping_file=flag)]})
    flag.touch()
    res = tandem.wait_ping(503, timeout=30)
    assert "evil" in res.body.decode(), res
    assert tandem.proc.poll() is None, tandem.log_tail()
    assert re.search(r"GET /ping.*read: a chunk header with its extensions, or the trailer "
                     r"fields, over 65535 bytes|a chunk header with its extensions", tandem.log())
    flag.unlink()
    tandem.wait_ping(200, timeout=60)


def test_an_endless_stage_chunk_extension_fails_fast_and_small(tandem_factory):
    tandem = tandem_factory({"name": "evil-ext", "stages": [hostile("extension", timeout_s=30)]})
    reset_peak(tandem.proc.pid)
    before = vm_kib(tandem.proc.pid, "VmRSS")
    res = tandem.invoke(b"x", timeout=60)
    grown_mib = (vm_kib(tandem.proc.pid, "VmHWM") - before) / 1024
    print(f"stage's endless chunk extension: answered in {res.elapsed_s:.3f} s, peak RSS growth "
          f"{grown_mib:.1f} MiB")
    assert_error(res, 424, "ModelError",
                 re.compile(r".*malformed HTTP response: a chunk header with its extensions, or "
                            r"the trailer fields, over 65535 bytes.*"), Stage="evil")
    # Cut at 64 KiB, long before the stage's timeout_s (the unbounded read took 15 s of a 4 s one).
    assert res.elapsed_s < 10, res.elapsed_s
    assert grown_mib < 32, grown_mib


def test_stray_bytes_after_a_response_never_reach_another_request(tandem_factory):
    tandem = tandem_factory({"name": "evil-stray", "stages": [hostile("stray")]})
    answers = []
    for _ in range(6):
        res = tandem.invoke(b"x")
        assert res.status == 200, res
        answers.append(res.body)
    assert b"stray" not in answers, answers
    assert answers == [f"a{i}".encode() for i in range(1, 7)], answers
    tandem.wait_for_log(r"stage 'evil' sent \d+ byte\(s\) after a complete response")


def test_a_content_length_counting_characters_fails_no_other_request(tandem_factory):
    tandem = tandem_factory({"name": "evil-chars", "stages": [hostile("chars")]})
    for _ in range(6):
        res = tandem.invoke(b"x")
        # The stage's own answer is what its Content-Length says: 5 of its 6 bytes.
        assert (res.status, res.body) == (200, "h\u00e9llo".encode()[:5]), res
    tandem.wait_for_log(r"stage 'evil' sent 1 byte\(s\) after a complete response")


def test_interim_responses_are_skipped(tandem_factory):
    tandem = tandem_factory({"name": "evil-interim", "stages": [hostile("interim")]})
    for _ in range(3):
        res = tandem.invoke(b"x")
        assert (res.status, res.body) == (200, b"ok"), res


def test_a_stage_trailer_does_not_abort_a_transform(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_text("1\n")
    run = run_transform(tmp_path, pipeline(hostile("trailer")), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"))
    assert run.returncode == 1, run.log
    assert run.report is not None, run.log
    report = run.object_report("a.csv")
    assert report["Status"] == "Failed" and report["Failure"]["Stage"] == "evil", report
    errors = (tmp_path / "out/a.csv.out.errors").read_text()
    assert "a chunk header with its extensions, or the trailer fields, over 65535 bytes" in errors


# --- descriptors ----------------------------------------------------------------------------


def test_idle_connections_beyond_the_descriptor_limit_never_starve_the_endpoint(tmp_path):
    limit = 300
    spec = complete_spec({"name": "fds", "stages": [identity("featurize")]})
    spec_path = write_spec(tmp_path, spec)
    log_path = tmp_path / "tandem.log"

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([str(tandem_exe()), "serve", str(spec_path), "--port", "0",
                                 "--host", "127.0.0.1"], stdin=subprocess.DEVNULL,
                                stdout=log_file, stderr=subprocess.STDOUT, env=process_env(),
                                preexec_fn=low_limit)
    tandem = Tandem(proc, spec_path, log_path, "fds")
    idle = []
    try:
        tandem.wait_serving()
        lowered = tandem.wait_for_log(r"server.max_connections lowered from 4096 to (\d+)")
        admitted = int(lowered.group(1))
        assert 0 < admitted < limit
        for _ in range(limit + 100):  # more idle clients than tandem has descriptors
            idle.append(socket.create_connection((tandem.host, tandem.port), timeout=10))
        res = tandem.invoke(b"1,2", timeout=10)
        open_fds = len(list(Path(f"/proc/{proc.pid}/fd").iterdir()))
        print(f"descriptor limit {limit}: {admitted} client connections admitted, {len(idle)} "
              f"idle clients, tandem holds {open_fds} descriptors; invocation answered "
              f"{res.status} in {res.elapsed_s:.3f} s")
        assert (res.status, res.body) == (200, b"1,2"), res
        assert tandem.ping().status == 200
        # The oldest idle connections were closed to make room: a read sees their end.
        idle[0].settimeout(10)
        assert idle[0].recv(1) == b""
        log = tandem.log()
        assert "unhealthy" not in log and "Too many open files" not in log, tandem.log_tail()
    finally:
        for s in idle:
            s.close()
        assert tandem.terminate() == 0, tandem.log_tail()
    assert proc.poll() is not None
