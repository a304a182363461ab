"""Bad inputs, each answered with the exact error that names where the problem is: hostile
specs given to `tandem validate`, malformed and hostile HTTP on raw sockets (oversized
headers, header injection, invalid Content-Length, slowloris clients), and damaged objects
in `tandem transform` (truncated gzip, corrupt framing, CSV quoting and CRLF, invalid UTF-8
in JSON, unsupported JSONPath). What other files already cover is listed with this file's
tests in docs/reliability.md ("Bad inputs")."""
import json
import select
import socket
import subprocess
import threading
import time

import pytest

from framing import recordio, tfrecord
from harness import identity, process_env, tandem_exe, wait_until
from transform_support import (batch_stage, gzipped, identity_pipeline, pipeline, run_transform,
                               stage_log, transform_command)

READ_TIMEOUT_S = 2  # the endpoint's request_read_timeout_s
LIMIT = 1024 * 1024  # its max_payload_mb: 1


# --- specs --------------------------------------------------------------------------------


def validate(tmp_path, text: str | bytes) -> subprocess.CompletedProcess:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return subprocess.run([str(tandem_exe()), "validate", "hostile.yaml"], capture_output=True,
                          text=True, env=process_env(), cwd=tmp_path, timeout=60)


def test_a_spec_over_1_mib_is_refused_before_parsing(tmp_path):
    text = "name: a\nstages:\n  - command: [x]\n# " + "x" * (1024 * 1024) + "\n"
    result = validate(tmp_path, text)
    assert result.returncode == 2, result
    assert result.stderr == ("hostile.yaml: cannot read the spec: it is larger than 1048576 "
                             "bytes (1 MiB)\n"
                             "hostile.yaml: 1 error(s)\n")


# --- HTTP ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint(module_tandem_factory):
    return module_tandem_factory({
        "name": "bad-inputs", "stages": [identity("echo", echo_headers=1)],
        "server": {"max_payload_mb": 1, "request_read_timeout_s": READ_TIMEOUT_S}})


def exchange(tandem, data: bytes, timeout: float = 10) -> bytes:
    """Sends raw bytes, half-closes, returns everything tandem answers until it closes."""
    with socket.create_connection((tandem.host, tandem.port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def responses(raw: bytes) -> list[tuple[str, dict, bytes]]:
    """The HTTP responses in `raw`, each (status line, headers, body by Content-Length)."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"an incomplete response: {raw!r}"
        status, *lines = head.decode().split("\r\n")
        headers = {}
        for line in lines:
            name, value = line.split(": ", 1)
            assert name not in headers, f"header {name} answered twice: {head!r}"
            headers[name] = value
        length = int(headers["Content-Length"])
        out.append((status, headers, rest[:length]))
        raw = rest[length:]
    return out


def single_error(raw: bytes, message: str, status: str = "HTTP/1.1 400 Bad Request") -> dict:
    [(status_line, headers, body)] = responses(raw)
    assert status_line == status, raw
    assert headers["x-amzn-ErrorType"] == "ValidationError", raw
    assert headers["Connection"] == "close", raw
    assert json.loads(body) == {"ErrorCode": "ValidationError", "Message": message}, raw
    return headers


def post(body: bytes, *headers: bytes) -> bytes:
    return (b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n" +
            b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body)


def test_a_request_line_over_16_kib_is_400(endpoint):
    single_error(exchange(endpoint, b"GET /ping?" + b"q" * 17000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"),
                 "request headers are larger than 16 KiB")


def test_many_small_headers_over_16_kib_are_400(endpoint):
    headers = [b"X-H%d: %s" % (i, b"v" * 100) for i in range(200)]
    single_error(exchange(endpoint, post(b"x", b"Content-Length: 1", *headers)),
                 "request headers are larger than 16 KiB")


@pytest.mark.parametrize("header, what", [
    (b"X-Amzn-SageMaker-Custom-Attributes: a\rX-Injected: 1", "bad line ending"),
    (b"X-Amzn-SageMaker-Custom-Attributes: a\nX-Injected: 1", "bad value"),
    (b"X-Amzn-SageMaker-Custom-Attributes: a\x00b", "bad value"),
    (b"X-Bad Name: 1", "bad field"),
    (b": no name", "bad field"),
])
def test_a_header_that_could_inject_another_is_400(endpoint, header, what):
    raw = exchange(endpoint, post(b"x", b"Content-Length: 1", header))
    headers = single_error(raw, f"malformed HTTP request: {what}")
    assert "X-Injected" not in headers


def test_a_folded_header_reaches_the_stage_as_one_value(endpoint):
    [(status, headers, body)] = responses(exchange(endpoint, post(
        b"x", b"Content-Length: 1", b"X-Amzn-SageMaker-Custom-Attributes: a\r\n X-Injected: 1",
        b"Connection: close")))
    assert status == "HTTP/1.1 200 OK"
    assert "X-Injected" not in headers
    assert json.loads(body)["custom_attributes"] == "a X-Injected: 1"


def test_an_encoded_line_break_in_the_target_stays_in_the_404_body(endpoint):
    [(status, headers, body)] = responses(exchange(
        endpoint, b"POST /invocations%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Length: 1\r\nConnection: close\r\n\r\nx"))
    assert status == "HTTP/1.1 404 Not Found"
    assert "X-Injected" not in headers
    assert json.loads(body)["Message"] == (
        "no route for /invocations%0d%0aX-Injected:%201; routes are GET /ping, POST "
        "/invocations, POST /endpoints/bad-inputs/invocations, GET /execution-parameters, "
        "GET /metrics")


@pytest.mark.parametrize("request_line, what", [
    (b"POST /endpoints/a\x01b/invocations HTTP/1.1", "bad target"),
    (b"PRI * HTTP/2.0", "bad version"),
])
def test_a_malformed_request_line_is_400(endpoint, request_line, what):
    single_error(exchange(endpoint, request_line + b"\r\nHost: t\r\n\r\n"),
                 f"malformed HTTP request: {what}")


@pytest.mark.parametrize("lengths", [
    [b"-1"], [b"1.5"], [b"0x10"], [b"99999999999999999999999"], [b"5, 6"], [b"5", b"4"]])
def test_an_invalid_content_length_is_400(endpoint, lengths):
    single_error(exchange(endpoint, post(b"hello", *(b"Content-Length: " + v for v in lengths))),
                 "malformed HTTP request: bad Content-Length")


def test_a_repeated_equal_content_length_is_one_length(endpoint):
    [(status, _, body)] = responses(exchange(endpoint, post(
        b"hello", b"Content-Length: 5, 5", b"Connection: close")))
    assert status == "HTTP/1.1 200 OK"
    assert json.loads(body)["body"] == "hello"


@pytest.mark.parametrize("headers, what", [
    ([b"Content-Length: 5", b"Transfer-Encoding: chunked"], "bad Transfer-Encoding"),
    ([b"Transfer-Encoding: chunked", b"Content-Length: 5"], "bad Content-Length"),
    ([b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"], "bad Transfer-Encoding"),
])
def test_content_length_and_chunked_together_are_400(endpoint, headers, what):
    single_error(exchange(endpoint, post(b"5\r\nhello\r\n0\r\n\r\n", *headers)),
                 f"malformed HTTP request: {what}")


def test_bytes_past_the_content_length_are_read_as_the_next_request(endpoint):
    [(ok, _, body), (bad, _, error)] = responses(exchange(
        endpoint, post(b"helloGARBAGE\r\n\r\n", b"Content-Length: 5")))
    assert ok == "HTTP/1.1 200 OK"
    assert json.loads(body)["body"] == "hello"
    assert bad == "HTTP/1.1 400 Bad Request"
    assert json.loads(error)["Message"] == "malformed HTTP request: bad method"


@pytest.mark.parametrize("body, header, what", [
    (b"hel", b"Content-Length: 5", "the body ended after 3 of its 5 bytes"),
    (b"5\r\nhel", b"Transfer-Encoding: chunked",
     "the chunked body ended after 3 bytes, before its last chunk"),
])
def test_a_body_cut_short_by_the_client_is_400(endpoint, body, header, what):
    single_error(exchange(endpoint, post(body, header)), f"malformed HTTP request: {what}")


def test_a_bad_chunk_size_is_400(endpoint):
    single_error(exchange(endpoint, post(b"zz\r\nhello\r\n0\r\n\r\n",
                                         b"Transfer-Encoding: chunked")),
                 "malformed HTTP request: bad chunk")


def test_a_chunked_body_at_the_limit_passes(endpoint):
    conn = endpoint.connection()
    try:
        conn.request("POST", "/invocations", body=(b"z" * 65536 for _ in range(LIMIT // 65536)),
                     encode_chunked=True, headers={"Content-Type": "text/plain"})
        res = conn.getresponse()
        body = res.read()
    finally:
        conn.close()
    assert res.status == 200, body[:300]
    assert json.loads(body)["body"] == "z" * LIMIT


# --- slow clients ---------------------------------------------------------------------------


class TrickleClient(threading.Thread):
    """Sends `head` at once, then one byte of `tail` every `interval` seconds until tandem
    closes the connection; records when it did, counted from the first byte sent."""

    def __init__(self, tandem, head: bytes, tail: bytes, interval: float = 0.25):
        super().__init__(daemon=True)
        self.sock = socket.create_connection((tandem.host, tandem.port), timeout=30)
        self.head, self.tail, self.interval = head, tail, interval
        self.closed_after = None
        self.received = b""
        self.sent = 0

    def run(self):
        start = time.monotonic()
        try:
            self.sock.sendall(self.head)
            for byte in self.tail:
                time.sleep(self.interval)
                self.sock.sendall(bytes([byte]))
                self.sent += 1
            self.received = self.sock.recv(65536)
        except OSError:
            pass
        self.closed_after = time.monotonic() - start
        self.sock.close()


def assert_cut_off(endpoint, client: TrickleClient, part: str):
    port = client.sock.getsockname()[1]
    client.start()
    # While the slow client holds its connection, others are served.
    wait_until(lambda: client.sent >= 2, 10, "the slow client to send its first bytes")
    res = endpoint.invoke(b"meanwhile", "text/plain")
    assert res.status == 200 and res.json()["body"] == "meanwhile", res
    client.join(30)
    assert not client.is_alive(), "the slow client was never cut off"
    assert client.received == b"", client.received
    # Cut off by the timeout: not before it, and well before the bytes ran out.
    assert READ_TIMEOUT_S - 0.1 <= client.closed_after < len(client.tail) * client.interval
    endpoint.wait_for_log(
        rf"closed the connection from 127\.0\.0\.1:{port}: its request's {part} did not arrive "
        rf"within request_read_timeout_s \({READ_TIMEOUT_S} s\)")


def test_a_client_trickling_its_header_is_cut_off_at_the_read_timeout(endpoint):
    assert_cut_off(endpoint, TrickleClient(endpoint, b"P", b"OST /invocations HTTP/1.1\r\n" +
                                           b"X-Slow: " + b"s" * 200), "header")


def test_a_client_trickling_its_body_is_cut_off_at_the_read_timeout(endpoint):
    head = post(b"", b"Content-Length: 200")
    assert_cut_off(endpoint, TrickleClient(endpoint, head, b"b" * 200), "body")


def test_two_hundred_slow_clients_are_all_cut_off_while_others_are_served(endpoint):
    clients = [socket.create_connection((endpoint.host, endpoint.port), timeout=30)
               for _ in range(200)]
    try:
        started = time.monotonic()
        for c in clients:
            c.sendall(b"POST /invocations HTTP/1.1\r\nX-Slow: ")
        res = endpoint.invoke(b"meanwhile", "text/plain")
        assert res.status == 200 and res.json()["body"] == "meanwhile", res
        assert select.select(clients, [], [], 0)[0] == [], "a slow client was cut off early"
        for c in clients:
            assert c.recv(1) == b"", "tandem answered a request it never got whole"
        assert time.monotonic() - started >= READ_TIMEOUT_S - 0.1
    finally:
        for c in clients:
            c.close()
    assert endpoint.invoke(b"after", "text/plain").status == 200


def test_an_idle_keep_alive_connection_outlives_the_read_timeout(endpoint):
    conn = endpoint.connection()
    try:
        for body in (b"first", b"second"):
            if body == b"second":
                time.sleep(READ_TIMEOUT_S + 0.5)  # idle, past the read timeout
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/plain"})
            res = conn.getresponse()
            assert (res.status, json.loads(res.read())["body"]) == (200, body.decode())
    finally:
        conn.close()


# --- transform ------------------------------------------------------------------------------


def make_inputs(root, files: dict[str, bytes]):
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).write_bytes(data)


def errors_file(tmp_path, name: str) -> list[dict]:
    return [json.loads(line) for line in
            (tmp_path / "out" / f"{name}.out.errors").read_text().splitlines()]


def test_truncated_and_non_gzip_objects_fail_alone_naming_the_offset(tmp_path):
    plain = b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000))
    member = gzipped(plain)
    cut = len(member) // 2
    make_inputs(tmp_path / "in", {"good.csv.gz": member, "cut.csv.gz": member[:cut],
                                  "plain.csv.gz": plain})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "Line",
                        "--compression", "Gzip", "--max-payload-mb", "1")
    assert run.returncode == 1, run.log
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "cut.csv.gz.out.errors", "good.csv.gz.out", "plain.csv.gz.out.errors"]
    assert (tmp_path / "out/good.csv.gz.out").read_bytes() == plain
    for name, message in [
        ("cut.csv.gz", "gzip: truncated: the object ends inside a gzip member at compressed "
                       f"byte offset {cut}"),
        ("plain.csv.gz", "gzip: corrupt data at compressed byte offset 2: incorrect header "
                         "check"),
    ]:
        failure = run.object_report(name)["Failure"]
        assert (failure["Error"], failure["Message"]) == ("InputError", message), failure
        [line] = errors_file(tmp_path, name)
        assert (line["error"], line["message"]) == ("InputError", message), line


@pytest.mark.parametrize("split_type, data, message", [
    ("RecordIO", recordio([b"abcd"]) + b"\x0a\x23\xd7\xcf" + b"\0" * 8,
     "record 1 (byte offset 12): bad RecordIO magic 0xcfd7230a at byte offset 12, expected "
     "0xced7230a"),
    ("RecordIO", recordio([b"abcd", b"efgh"])[:20],
     "record 1 (byte offset 12): truncated: the object ends inside RecordIO data at byte offset "
     "20 (0 of 4 bytes with padding)"),
    ("TFRecord", tfrecord([b"first", b"second"])[:30],
     "record 1 (byte offset 21): truncated: the object ends inside a TFRecord header at byte "
     "offset 30 (9 of 12 bytes)"),
])
def test_corrupt_framing_fails_the_object_naming_the_record(tmp_path, split_type, data, message):
    make_inputs(tmp_path / "in", {"bad.bin": data})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", split_type,
                        "--strategy", "SingleRecord")
    assert run.returncode == 1, run.log
    failure = run.object_report("bad.bin")["Failure"]
    assert (failure["Error"], failure["Message"]) == ("InputError", message), failure
    assert not (tmp_path / "out/bad.bin.out").exists()
    assert errors_file(tmp_path, "bad.bin")[0]["message"] == message


def test_csv_quotes_and_crlf_survive_filter_and_join_and_a_split_quote_is_named(tmp_path):
    make_inputs(tmp_path / "in", {
        "quoted.csv": b'id1,"Smith, J.","said ""hi""",1,2\r\nid2,"",x,3,4\r\n',
        "split.csv": b'id1,a,b,1,2\nid2,"two\nlines",x,3,4\n'})
    log = tmp_path / "stage.jsonl"
    run = run_transform(tmp_path, pipeline(batch_stage("score", mode="sum", record=log)),
                        "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--content-type", "text/csv", "--split-type", "Line",
                        "--input-filter", "$[3:]", "--join-source", "Input",
                        "--output-filter", "$[0,1,2,-1]", "--assemble-with", "Line")
    assert run.returncode == 1, run.log
    # The stage got "1,2\r\n3,4\r\n" (10 bytes); the join takes the input's fields without the
    # "\r", and AssembleWith Line ends each record with "\n" as SageMaker does.
    assert 10 in [call["bytes"] for call in stage_log(log)]
    assert (tmp_path / "out/quoted.csv.out").read_bytes() == (
        b'id1,"Smith, J.","said ""hi""",3.0\nid2,"",x,7.0\n')
    message = ('record 1 (byte offset 12): InputFilter "$[3:]": CSV position 4: unterminated '
               'quoted field')
    failure = run.object_report("split.csv")["Failure"]
    assert (failure["Error"], failure["Message"]) == ("InputError", message), failure
    assert not (tmp_path / "out/split.csv.out").exists()


def test_invalid_utf8_in_json_fails_its_record_and_the_report_is_written(tmp_path):
    make_inputs(tmp_path / "in", {"bad.jsonl": b'{"a": [1]}\n{"a": "caf\xe9"}\n',
                                  "good.jsonl": b'{"a": [1, 2]}\n'})
    command, report = transform_command(tmp_path, pipeline(batch_stage("score", mode="sum")), [
        "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--content-type",
        "application/jsonlines", "--split-type", "Line", "--input-filter", "$.a",
        "--assemble-with", "Line"])
    proc = subprocess.run(command, env=process_env(), capture_output=True, timeout=120)
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")
    # The record's bad byte is quoted in the message; JSON files carry it as U+FFFD.
    message = ('record 1 (byte offset 11): InputFilter "$.a": not valid JSON: parse error at '
               'line 1, column 12: syntax error while parsing value - invalid string: ill-formed '
               'UTF-8 byte; last read: \'"caf\ufffd"\'')
    failure = [o for o in json.loads(report.read_text())["Objects"]
               if o["Input"].endswith("bad.jsonl")][0]["Failure"]
    assert (failure["Error"], failure["Message"]) == ("InputError", message), failure
    assert errors_file(tmp_path, "bad.jsonl") == [
        {"input": str(tmp_path / "in/bad.jsonl"), "error": "InputError", "message": message}]
    assert (tmp_path / "out/good.jsonl.out").read_bytes() == b'{"sum": 3}\n'
    assert not (tmp_path / "out/bad.jsonl.out").exists()


def test_a_manifest_that_is_not_utf8_fails_the_job_with_a_report(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(b'[{"prefix": "/data/"}, "caf\xe9.csv"]')
    command, report = transform_command(tmp_path, identity_pipeline(1), [
        "--input", str(manifest), "--s3-data-type", "ManifestFile", "--output",
        str(tmp_path / "out"), "--split-type", "Line"])
    proc = subprocess.run(command, env=process_env(), capture_output=True, timeout=120)
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")
    job = json.loads(report.read_text())
    assert (job["TransformJobStatus"], job["FailureReason"]) == (
        "Failed", f"{manifest}: not valid JSON: parse error at line 1, column 29: syntax error "
                  "while parsing value - invalid string: ill-formed UTF-8 byte; last read: "
                  "'\"caf\ufffd.'")


def test_an_object_name_that_is_not_utf8_is_scored_and_reported(tmp_path):
    (tmp_path / "in").mkdir()
    with open(bytes(tmp_path / "in") + b"/caf\xe9.csv", "wb") as f:
        f.write(b"1,2\n")
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "Line")
    assert run.returncode == 0, run.log
    assert open(bytes(tmp_path / "out") + b"/caf\xe9.csv.out", "rb").read() == b"1,2\n"
    [entry] = run.report["Objects"]
    assert entry["Input"] == str(tmp_path / "in") + "/caf\ufffd.csv"


@pytest.mark.parametrize("option, value, where, error", [
    ("--content-type", "text/csv\r\nX-Injected: 1", "TransformInput.ContentType",
     "control character 0x0d at position 8"),
    ("--accept", "a\n\nPOST /invocations HTTP/1.1", "TransformOutput.Accept",
     "control character 0x0a at position 1"),
])
def test_a_content_type_or_accept_that_would_inject_a_header_is_refused(tmp_path, option, value,
                                                                        where, error):
    make_inputs(tmp_path / "in", {"a.csv": b"1\n"})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), option, value)
    assert run.returncode == 2, run.log
    assert run.log == f"command line: {where}: {error}; a header value cannot hold one\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option, path, error", [
    ("--input-filter", "$[?(@.a)]", "position 2: expected an index, a slice, a quoted name or '*'"),
    ("--output-filter", "$[1:2:1]", "position 5: slice steps are not supported"),
    ("--output-filter", "$[0:2,5:]", "position 6: only one slice per bracket is supported"),
    ("--input-filter", "$.a[*].b..c", "position 9: recursive descent '..' is not supported"),
    ("--output-filter", "$['a',1]", "position 6: expected a quoted name"),
])
def test_unsupported_jsonpath_is_refused_before_any_stage_starts(tmp_path, option, path, error):
    make_inputs(tmp_path / "in", {"a.jsonl": b'{"a": 1}\n'})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "Line",
                        "--content-type", "application/jsonlines", option, path)
    assert run.returncode == 2, run.log
    name = "InputFilter" if option == "--input-filter" else "OutputFilter"
    assert run.log == f'command line: DataProcessing.{name} "{path}": {error}\n'
    assert not (tmp_path / "out").exists()
