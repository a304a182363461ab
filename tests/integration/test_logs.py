"""Log formats: with --log-format json (or TANDEM_LOG_FORMAT=json) every line tandem writes,
from start-up to shutdown, is one JSON object; a line about an invocation carries its
inference id, a stage's line carries the stage's name. Text stays the default."""
import json
import re

from harness import identity, logging_stage

ARGS = ("--port", "0", "--host", "127.0.0.1")


def json_lines(tandem) -> list[dict]:
    lines = []
    for number, line in enumerate(tandem.log().splitlines(), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise AssertionError(f"log line {number} is not JSON ({e}): {line!r}") from None
        assert isinstance(obj, dict), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj["time"]), line
        assert obj["level"] in ("debug", "info", "warn", "error"), line
        assert isinstance(obj["msg"], str), line
        lines.append(obj)
    return lines


def test_json_lines_from_start_to_stop(tandem_factory):
    tandem = tandem_factory({"name": "logs-it", "stages": [
        identity("a", append="|a"),
        logging_stage("b"),
        identity("c"),
    ]}, args=(*ARGS, "--log-format", "json"))
    res = tandem.invoke(b"hello", "text/plain", headers={"X-Amzn-SageMaker-Inference-Id": "inf-42"})
    assert res.status == 200, res
    tandem.wait_for_log(r'"msg":"invocation id=inf-42 ')
    assert tandem.terminate() == 0
    lines = json_lines(tandem)

    started = [x for x in lines if x["msg"].startswith("stage '") and " started: pid " in x["msg"]]
    assert sorted((x["stage"], x["container"]) for x in started) == [
        ("a", "container-1"), ("b", "container-2"), ("c", "container-3")]

    # b's own output: the stage's name as a field, its line as the message.
    received = [x for x in lines if x.get("stage") == "b" and
                x["msg"].startswith("received invocation 1:")]
    assert len(received) == 1, lines
    assert received[0]["msg"] == "received invocation 1: 7 bytes, inference id inf-42"

    invocations = [x for x in lines if x["msg"].startswith("invocation ")]
    assert len(invocations) == 1, invocations
    line = invocations[0]
    assert line["inference_id"] == "inf-42"
    assert line["status"] == 200
    assert line["error"] is None
    assert re.fullmatch(r"[0-9a-f-]{36}", line["request_id"]), line
    assert [s["stage"] for s in line["stages"]] == ["a", "b", "c"]
    assert all(s["status"] == 200 and s["ms"] >= 0 for s in line["stages"])
    assert line["total_ms"] >= sum(s["ms"] for s in line["stages"]) - 0.01

    assert any(x["msg"] == "endpoint 'logs-it' stopped" for x in lines), lines


def test_failed_invocation_names_the_error(tandem_factory):
    tandem = tandem_factory({"name": "logs-fail", "stages": [
        identity("a"), identity("b", fail_status=503)]}, env={"TANDEM_LOG_FORMAT": "json"})
    res = tandem.invoke(headers={"X-Amzn-SageMaker-Inference-Id": "bad-1"})
    assert res.status == 424, res
    tandem.wait_for_log(r'"msg":"invocation id=bad-1 ')
    line = next(x for x in json_lines(tandem) if x.get("inference_id") == "bad-1")
    assert line["status"] == 424
    assert [(s["stage"], s["status"]) for s in line["stages"]] == [("a", 200), ("b", 503)]
    assert line["error"].startswith("Received server error (503) from container-2 (stage 'b')")


def test_text_is_the_default(tandem_factory):
    tandem = tandem_factory({"name": "logs-text", "stages": [identity("a")]})
    assert tandem.invoke().status == 200
    match = tandem.wait_for_log(r"(?m)^\S+Z INFO  invocation id=(\S+) status=200 total=")
    assert not tandem.log().startswith("{")
    assert match.group(1)
