"""W3C Trace Context: a client's traceparent reaches every stage unchanged, an invalid one
reaches none (and fails nothing), and the JSON log's invocation line names the trace."""
import json
import sys

from harness import HELPERS

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def echo(name: str) -> dict:
    return {"name": name, "command": [sys.executable, str(HELPERS / "header_echo_stage.py"),
                                      "serve"]}


def seen_by_each_stage(res) -> list[dict]:
    """The headers stage c, b and a received, unnested from the echo of each."""
    seen, answer = [], res.json()
    while True:
        seen.append(answer["headers"])
        try:
            answer = json.loads(answer["body"])
        except json.JSONDecodeError:
            return seen


def test_traceparent_reaches_every_stage(tandem_factory):
    tandem = tandem_factory({"name": "trace-it", "stages": [echo("a"), echo("b"), echo("c")]},
                            env={"TANDEM_LOG_FORMAT": "json"})
    res = tandem.invoke(b"x", "text/plain", headers={
        "traceparent": TRACEPARENT, "X-Amzn-SageMaker-Inference-Id": "traced"})
    assert res.status == 200, res
    seen = seen_by_each_stage(res)
    assert len(seen) == 3
    assert [h.get("traceparent") for h in seen] == [TRACEPARENT] * 3
    assert [h.get("x-amzn-sagemaker-inference-id") for h in seen] == ["traced"] * 3
    tandem.wait_for_log(r'"inference_id":"traced"')
    line = next(json.loads(x) for x in tandem.log().splitlines()
                if '"inference_id":"traced"' in x)
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_invalid_or_absent_traceparent_is_not_passed_on(tandem_factory):
    tandem = tandem_factory({"name": "trace-bad", "stages": [echo("a"), echo("b")]})
    for headers in ({}, {"traceparent": "00-not-a-trace-context-01"},
                    {"traceparent": TRACEPARENT.upper()}):
        res = tandem.invoke(b"x", "text/plain", headers=headers)
        assert res.status == 200, res
        assert all("traceparent" not in h for h in seen_by_each_stage(res)), (headers, res)
