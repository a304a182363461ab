"""GET /metrics: Prometheus text that promtool accepts, whose counters, latency histograms
and stage health move as invocations succeed, fail and a stage is restarted."""
import re
import shutil
import subprocess

import pytest

from harness import identity, wait_until

NAME = "metrics-it"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")


def parse(text: str) -> dict[str, float]:
    """`name{labels}` (exactly as rendered) -> value, for every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        key = match.group(1) + (match.group(2) or "")
        assert key not in samples, f"series {key} appears twice"
        samples[key] = float(match.group(3))
    return samples


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; deploy/setup.sh "
                    "installs it)")
    done = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                          capture_output=True, timeout=60)
    assert done.returncode == 0, (done.stdout + done.stderr).decode() + "\n" + text


def scrape(tandem) -> tuple[str, dict[str, float]]:
    res = tandem.request("GET", "/metrics")
    assert res.status == 200, res
    assert res.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    text = res.body.decode()
    return text, parse(text)


A = 'stage="a",container="container-1"'
B = 'stage="b",container="container-2"'


def test_metrics_follow_invocations_errors_and_restarts(tandem_factory):
    tandem = tandem_factory({"name": NAME, "stages": [
        identity("a", append="|a"),
        identity("b", exit_after=3),  # exits on its 3rd invocation; the supervisor restarts it
    ]})
    text, m = scrape(tandem)
    promtool_check(text)
    assert m[f'tandem_endpoint_info{{endpoint="{NAME}"}}'] == 1
    assert m["tandem_ready"] == 1
    assert m['tandem_invocations_total{status_class="2xx"}'] == 0
    assert m[f"tandem_stage_up{{{A}}}"] == 1 and m[f"tandem_stage_up{{{B}}}"] == 1
    assert m[f"tandem_stage_restarts_total{{{B}}}"] == 0
    assert m["tandem_in_flight_invocations"] == 0

    for _ in range(2):
        res = tandem.invoke(b"x", "text/plain")
        assert (res.status, res.body) == (200, b"x|a"), res
    text, m = scrape(tandem)
    promtool_check(text)
    assert m['tandem_invocations_total{status_class="2xx"}'] == 2
    assert m["tandem_model_latency_seconds_count"] == 2
    assert m["tandem_model_latency_seconds_sum"] > 0
    assert m['tandem_model_latency_seconds_bucket{le="+Inf"}'] == 2
    assert m["tandem_overhead_latency_seconds_count"] == 2
    for stage in (A, B):
        assert m[f"tandem_container_latency_seconds_count{{{stage}}}"] == 2
        assert m[f'tandem_stage_calls_total{{{stage},status_class="2xx"}}'] == 2
    # Buckets are cumulative and end at the count.
    buckets = [v for k, v in m.items()
               if k.startswith(f"tandem_container_latency_seconds_bucket{{{A},")]
    assert buckets == sorted(buckets) and buckets[-1] == 2

    # Refused by validation: a 4xx that reaches no stage.
    res = tandem.invoke(headers={"X-Amzn-SageMaker-Inference-Id": "x" * 65})
    assert res.status == 400, res
    # b exits on its 3rd invocation: a 424 ModelError attributed to b, which gave no answer.
    res = tandem.invoke(b"y", "text/plain")
    assert res.status == 424, res
    _, m = scrape(tandem)
    assert m['tandem_invocations_total{status_class="2xx"}'] == 2
    assert m['tandem_invocations_total{status_class="4xx"}'] == 2
    assert m['tandem_invocation_errors_total{error_type="ValidationError",status="400"}'] == 1
    assert m['tandem_invocation_errors_total{error_type="ModelError",status="424"}'] == 1
    assert m[f'tandem_stage_calls_total{{{B},status_class="none"}}'] == 1
    assert m[f'tandem_stage_calls_total{{{A},status_class="2xx"}}'] == 3
    assert m[f"tandem_container_latency_seconds_count{{{A}}}"] == 3
    assert m["tandem_model_latency_seconds_count"] == 3

    def restarted_and_up():
        text, m = scrape(tandem)
        if m[f"tandem_stage_restarts_total{{{B}}}"] == 1 and m[f"tandem_stage_up{{{B}}}"] == 1:
            return text, m
        return None

    text, m = wait_until(restarted_and_up, 30, "stage b restarted and up in /metrics")
    promtool_check(text)
    assert m["tandem_ready"] == 1
    assert m[f"tandem_stage_restarts_total{{{A}}}"] == 0
    res = tandem.invoke(b"z", "text/plain")
    assert res.status == 200, res
    _, m = scrape(tandem)
    assert m['tandem_invocations_total{status_class="2xx"}'] == 3


def test_metrics_route_is_get_only_and_oversize_bodies_count(tandem_factory):
    tandem = tandem_factory({"name": NAME, "server": {"max_payload_mb": 0.001},
                             "stages": [identity("a")]})
    res = tandem.request("POST", "/metrics", b"")
    assert res.status == 405, res
    assert res.header("Allow") == "GET"
    res = tandem.invoke(b"x" * 2000)  # over max_payload_mb: refused before its body is read
    assert res.status == 413, res
    _, m = scrape(tandem)
    assert m['tandem_invocations_total{status_class="4xx"}'] == 1
    assert m['tandem_invocation_errors_total{error_type="ValidationError",status="413"}'] == 1
    assert m["tandem_model_latency_seconds_count"] == 0
