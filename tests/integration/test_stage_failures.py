"""A stage that fails, hangs, answers too much, or has no free slot: 424 ModelError naming it
(and its container-N), and no later stage called."""
import re
import threading

import pytest

from harness import assert_error, assert_server_timing, identity, logging_stage, pid_alive


def log_ref(endpoint: str, stage: str) -> str:
    return f"the log of endpoint '{endpoint}', lines prefixed '{stage} |'"


@pytest.mark.parametrize("status, kind, code", [
    (500, "server", "SERVER_ERROR_FROM_MODEL"),
    (422, "client", "CLIENT_ERROR_FROM_MODEL"),
])
def test_failing_stage_is_424_and_later_stages_are_not_called(tandem_factory, status, kind, code):
    name = f"fail-{status}"
    tandem = tandem_factory({"name": name, "stages": [
        identity("a", append="|a"),
        identity("b", fail_status=status),
        # c dies on its first invocation: had tandem called it, the answer would name c,
        # its pid would change and its log would say so.
        identity("c", exit_after=1),
    ]})
    pids = tandem.stage_pids()
    res = tandem.invoke(b"1,2", "text/csv", headers={"X-Amzn-SageMaker-Inference-Id": "f-1"})
    original = f"identity stage failing with status {status}"
    assert_error(
        res, 424, "ModelError",
        f'Received {kind} error ({status}) from container-2 (stage \'b\') with message '
        f'"{original}". See {log_ref(name, "b")} for more information.',
        ErrorCode=code, OriginalStatusCode=status, OriginalMessage=original,
        LogStreamArn=log_ref(name, "b"), Stage="b", Container="container-2")
    assert_server_timing(res, ["a", "b"])
    tandem.wait_for_log(
        rf'invocation id=f-1 status=424 total=\S+ a=\S+\(200\) b=\S+\({status}\) error='
        rf'"Received {kind} error \({status}\) from container-2 \(stage \'b\'\)')
    assert tandem.ping().status == 200
    assert pid_alive(pids["c"]) and tandem.stage_pids() == pids
    assert "identity: exiting on invocation" not in tandem.log()


def test_hanging_stage_times_out_with_424(tandem_factory):
    name = "hang-it"
    tandem = tandem_factory({"name": name, "stages": [
        identity("a"),
        identity("b", delay_ms=4000, spec={"timeout_s": 1}),
        identity("c", exit_after=1),
    ]})
    res = tandem.invoke(b"1,2", "text/csv", timeout=10)
    assert 0.9 < res.elapsed_s < 2.5, f"answered after {res.elapsed_s:.2f} s, timeout_s is 1"
    what = (r"timed out waiting for the response after 1(\.\d+)? s "
            r"\(timeout_s 1 s, invocation_timeout_s 60 s\)")
    body = assert_error(
        res, 424, "ModelError",
        re.compile(rf'Received server error \(0\) from container-2 \(stage \'b\'\) with message '
                   rf'"{what}"\. See {re.escape(log_ref(name, "b"))} for more information\.'),
        ErrorCode="SERVER_ERROR_FROM_MODEL", OriginalStatusCode=0, Stage="b",
        Container="container-2")
    assert re.fullmatch(what, body["OriginalMessage"]), body
    assert_server_timing(res, ["a", "b"])


def test_invocation_timeout_bounds_the_whole_chain(tandem_factory):
    name = "deadline-it"
    tandem = tandem_factory({"name": name, "server": {"invocation_timeout_s": 1.2}, "stages": [
        identity("a", delay_ms=700, spec={"timeout_s": 5}),
        identity("b", delay_ms=4000, spec={"timeout_s": 5}),
    ]})
    res = tandem.invoke(b"1", "text/csv", timeout=10)
    assert 1.1 < res.elapsed_s < 2.5, f"answered after {res.elapsed_s:.2f} s"
    assert_error(
        res, 424, "ModelError",
        re.compile(r"Received server error \(0\) from container-2 \(stage 'b'\) with message "
                   r'"timed out waiting for the response after 0\.\d+ s '
                   r'\(timeout_s 5 s, invocation_timeout_s 1\.2 s\)"\. See .*'),
        Stage="b", Container="container-2")


def test_oversize_body_between_stages_names_both(tandem_factory):
    name = "payload-it"
    tandem = tandem_factory({"name": name, "server": {"stage_payload_mb": 0.001}, "stages": [
        identity("a"), identity("b"), identity("c", append="y" * 100),
    ]})
    limit = 1049  # ceil(0.001 MiB) in bytes
    mib = format(limit / (1024 * 1024), "g")
    # At the limit: passes all the way (c's answer is limit - 100 + 100 bytes).
    res = tandem.invoke(b"x" * (limit - 100), "text/plain")
    assert res.status == 200, res
    assert res.body == b"x" * (limit - 100) + b"y" * 100

    res = tandem.invoke(b"x" * (limit + 1), "text/plain")
    what = (f"its response is over stage_payload_mb ({mib} MiB), the limit on the body passed "
            f"to stage 'b' (container-2)")
    assert_error(res, 424, "ModelError",
                 f'Received server error (0) from container-1 (stage \'a\') with message "{what}". '
                 f"See {log_ref(name, 'a')} for more information.",
                 OriginalStatusCode=0, OriginalMessage=what, Stage="a", Container="container-1")
    assert_server_timing(res, ["a"])

    res = tandem.invoke(b"x" * (limit - 99), "text/plain")
    what = (f"its response is over stage_payload_mb ({mib} MiB), the limit on the body returned "
            f"to the client")
    assert_error(res, 424, "ModelError",
                 f'Received server error (0) from container-3 (stage \'c\') with message "{what}". '
                 f"See {log_ref(name, 'c')} for more information.",
                 Stage="c", Container="container-3")


def test_max_inflight_serialises_calls_to_a_stage(tandem_factory):
    """max_inflight 1: of two requests at once, the stage receives the second only after it
    answered the first (the logging stage prints both events)."""
    tandem = tandem_factory({"name": "slots-it", "stages": [
        logging_stage("slow", delay_ms=500, max_inflight=1),
    ]})
    results = [None] * 2

    def call(i):
        results[i] = tandem.invoke(f"r{i}".encode(), "text/plain", timeout=10)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert [r.status for r in results] == [200, 200], results
    assert sorted(r.body for r in results) == [b"r0", b"r1"]
    events = re.findall(r"slow \| (received|answered) invocation (\d)", tandem.log())
    assert events == [("received", "1"), ("answered", "1"), ("received", "2"),
                      ("answered", "2")], events
    assert max(r.elapsed_s for r in results) >= 0.95


def test_request_a_stage_received_is_not_sent_to_it_again(tandem_factory):
    """A stage that read a request and then closed the connection without answering (a
    worker dying mid-request while its server lives on) must not get the same POST again:
    RFC 9110 9.2.2, a client SHOULD NOT retry a non-idempotent request automatically. The
    client gets a 424 naming the stage."""
    tandem = tandem_factory({"name": "once-it", "stages": [
        logging_stage("worker", env={"LOGGING_STAGE_DROP_ON": 2}),
    ]})
    # The first request leaves a keep-alive connection in tandem's pool; the second reuses it.
    assert tandem.invoke(b"one", "text/plain").status == 200
    res = tandem.invoke(b"two", "text/plain", headers={"X-Amzn-SageMaker-Inference-Id": "dup-2"})
    tandem.wait_for_log(r"invocation id=dup-2 status=")
    # The stage's own lines reach the log through a pipe: they may come after tandem's.
    tandem.wait_for_log(r"worker \| received invocation \d+: \d+ bytes, inference id dup-2")
    received = re.findall(r"worker \| received invocation \d+: \d+ bytes, inference id dup-2",
                          tandem.log())
    assert len(received) == 1, f"the stage received request dup-2 {len(received)} times; {res}"
    assert_error(res, 424, "ModelError",
                 re.compile(r"Received server error \(0\) from container-1 \(stage 'worker'\) "
                            r'with message "connection (closed|reset) before a complete response'
                            r' \(did the stage crash\?\)"\. See .*'),
                 Stage="worker", OriginalStatusCode=0)
