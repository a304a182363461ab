"""Bounds on what a client may send: max_payload_mb (413, also before the body with
`Expect: 100-continue`, and for chunked bodies) and max_concurrent_invocations (503 with
Retry-After)."""
import re
import socket
import subprocess
import threading

import pytest

from harness import assert_error, identity, logging_stage

LIMIT = 1024 * 1024  # max_payload_mb: 1
TOO_LARGE = ("request body is larger than max_payload_mb (1 MiB, 1048576 bytes)")


@pytest.fixture(scope="module")
def small(module_tandem_factory):
    return module_tandem_factory({"name": "limits-it", "server": {"max_payload_mb": 1},
                                  "stages": [identity("a"), identity("b")]})


def test_body_at_the_limit_passes(small):
    res = small.invoke(b"x" * LIMIT, "application/octet-stream")
    assert res.status == 200, res
    assert len(res.body) == LIMIT


def test_body_over_the_limit_is_413(small):
    res = small.invoke(b"x" * (LIMIT + 1), "application/octet-stream")
    assert_error(res, 413, "ValidationError", TOO_LARGE, ErrorCode="ValidationError")
    assert res.header("Connection") == "close"


def test_chunked_body_over_the_limit_is_413(small):
    conn = small.connection()
    try:
        chunks = (b"y" * 65536 for _ in range(LIMIT // 65536 + 1))
        conn.request("POST", "/invocations", body=chunks, encode_chunked=True,
                     headers={"Content-Type": "application/octet-stream"})
        res = conn.getresponse()
        body = res.read()
    finally:
        conn.close()
    assert res.status == 413, body
    assert res.getheader("x-amzn-ErrorType") == "ValidationError"
    assert body == b'{"ErrorCode":"ValidationError","Message":"%s"}' % TOO_LARGE.encode()


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=30)


def test_expect_100_continue_over_the_limit_is_refused_before_the_body(small, tmp_path):
    payload = tmp_path / "big.bin"
    payload.write_bytes(b"z" * (4 * LIMIT))
    out = curl("-o", str(tmp_path / "out.json"), "-w", "%{http_code} %{size_upload}",
               "-H", "Content-Type: application/octet-stream", "-H", "Expect: 100-continue",
               "--data-binary", f"@{payload}", f"{small.base_url}/invocations")
    assert out.returncode == 0, out.stderr
    status, uploaded = out.stdout.split()
    assert status == "413", out.stdout
    assert uploaded == "0", f"curl sent {uploaded} bytes of the body before the 413"
    assert (tmp_path / "out.json").read_text() == (
        '{"ErrorCode":"ValidationError","Message":"%s"}' % TOO_LARGE)


def test_expect_100_continue_under_the_limit_is_served(small, tmp_path):
    payload = tmp_path / "ok.bin"
    payload.write_bytes(b"q" * (LIMIT // 2))
    out = curl("-o", str(tmp_path / "out.bin"), "-w", "%{http_code} %{size_upload}",
               "-H", "Content-Type: application/octet-stream", "-H", "Expect: 100-continue",
               "--data-binary", f"@{payload}", f"{small.base_url}/invocations")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"200 {LIMIT // 2}"
    assert (tmp_path / "out.bin").read_bytes() == payload.read_bytes()


def test_server_still_serves_after_refusals(small):
    assert small.invoke(b"after", "text/plain").body == b"after"


def test_overload_is_503_with_retry_after(tandem_factory):
    tandem = tandem_factory({"name": "busy-it", "server": {"max_concurrent_invocations": 1},
                             "stages": [logging_stage("slow", delay_ms=1500)]})
    result = {}
    first = threading.Thread(
        target=lambda: result.setdefault("res", tandem.invoke(b"first", "text/plain")))
    first.start()
    tandem.wait_for_log(r"slow \| received invocation 1")
    res = tandem.invoke(b"second", "text/plain")
    assert_error(res, 503, "ServiceUnavailable",
                 "endpoint 'busy-it' is at max_concurrent_invocations (1); retry later",
                 ErrorCode="ServiceUnavailable")
    assert res.header("Retry-After") == "1"
    # /ping is not an invocation: it is answered while the endpoint is busy.
    assert tandem.ping().status == 200
    first.join(10)
    assert (result["res"].status, result["res"].body) == (200, b"first")
    res = tandem.invoke(b"third", "text/plain")
    assert (res.status, res.body) == (200, b"third"), res
    # The refused request never reached the stage: it saw the first and the third only.
    assert re.findall(r"slow \| received invocation (\d+)", tandem.log()) == ["1", "2"]


def raw_exchange(tandem, data: bytes) -> bytes:
    """Sends raw bytes, returns everything tandem answers until it closes the connection."""
    with socket.create_connection((tandem.host, tandem.port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse_raw(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    return status, dict(line.split(": ", 1) for line in lines), body


def test_headers_over_16_kib_are_400(small):
    status, headers, body = parse_raw(raw_exchange(
        small, b"POST /invocations HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 17000 +
        b"\r\nContent-Length: 1\r\n\r\nx"))
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["x-amzn-ErrorType"] == "ValidationError"
    assert headers["Connection"] == "close"
    assert body == b'{"ErrorCode":"ValidationError","Message":"request headers are larger than 16 KiB"}'


@pytest.mark.parametrize("request_bytes, what", [
    (b"GARBAGE\r\n\r\n", "bad method"),
    (b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\nx", "bad Content-Length"),
])
def test_malformed_request_is_400(small, request_bytes, what):
    status, headers, body = parse_raw(raw_exchange(small, request_bytes))
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["x-amzn-ErrorType"] == "ValidationError"
    assert body == b'{"ErrorCode":"ValidationError","Message":"malformed HTTP request: %s"}' % (
        what.encode())
