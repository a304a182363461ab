"""`tandem replay`: captured traffic re-run through a pipeline started from its spec or through
a running endpoint; all matching on an unchanged pipeline, differences (with the first
differing field and stage) on a changed one, the tolerance boundary, malformed lines, traces,
--only, and batch input records."""
import json
import shutil

import pytest

from capture_support import capture_line, records, run_replay
from harness import bin_dir, identity
from models_reference import BREAST_CANCER, example_spec
from transform_support import batch_stage


def pipeline(*stages, name="rp", capture=None):
    spec = {"version": 1, "name": name, "stages": list(stages)}
    if capture is not None:
        spec["capture"] = {"destination": str(capture), "rotate_s": 3600, "stages": True}
    return spec


def three_stages(model_append: str, capture=None):
    return pipeline(identity("feat", append=",f"), identity("model", append=model_append),
                    identity("post"), capture=capture)


def capture_traffic(tandem_factory, spec, bodies, **headers):
    tandem = tandem_factory(spec)
    ids = []
    for body in bodies:
        res = tandem.invoke(body.encode(), headers=headers)
        assert res.status == 200, res
        ids.append(res.header("x-amzn-RequestId"))
    assert tandem.terminate() == 0
    return ids


def test_an_unchanged_pipeline_matches_everything(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    bodies = [f"{i},{i * 2}" for i in range(8)]
    capture_traffic(tandem_factory, three_stages(",1", folder), bodies)
    assert len(records(folder)) == 8
    run = run_replay(tmp_path, three_stages(",1"), "--capture", str(folder), "--concurrency", "3")
    assert run.returncode == 0, run.stdout + run.log
    assert run.stdout.splitlines()[-1] == "replay: 8 event(s): 8 matched, 0 differed, 0 failed"
    assert run.report["matched"] == 8 and run.report["allMatched"] is True
    assert [r["outcome"] for r in run.report["results"]] == ["matched"] * 8


def test_a_changed_stage_is_found_and_named(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    ids = capture_traffic(tandem_factory, three_stages(",1", folder), ["5,6", "7,8"])
    run = run_replay(tmp_path, three_stages(",2"), "--capture", str(folder))
    assert run.returncode == 1, run.stdout + run.log
    assert run.stdout.splitlines()[-1] == "replay: 2 event(s): 0 matched, 2 differed, 0 failed"
    first = run.stdout.splitlines()[0]
    assert first.startswith(f"DIFFERS  event {ids[0]} (")
    assert first.endswith(" at row 1, field 4; first stage whose output differs: 'model' "
                          "(container-2) at row 1, field 4")
    assert run.stdout.splitlines()[1] == "  captured: 5,6,f,»1«"
    assert run.stdout.splitlines()[2] == "  replayed: 5,6,f,»2«"
    result = run.report["results"][0]
    assert result["outcome"] == "differed"
    assert result["firstDifferingStage"]["stage"] == "model"
    assert result["difference"]["where"] == "row 1, field 4"


def test_the_tolerance_boundary(tmp_path):
    # identity answers 0.5 to 0.5; the capture says 0.5000015 (SageMaker's own format).
    capture = tmp_path / "capture.jsonl"
    capture.write_text(capture_line("e1", "0.5", "0.5000015") + "\n")
    spec = pipeline(identity("echo"))
    strict = run_replay(tmp_path, spec, "--capture", str(capture), "--tolerance", "1e-6",
                        name="strict")
    assert strict.returncode == 1, strict.stdout + strict.log
    assert "DIFFERS  event e1 (" in strict.stdout
    assert "at row 1, field 1" in strict.stdout
    loose = run_replay(tmp_path, spec, "--capture", str(capture), "--tolerance", "2e-6",
                       name="loose")
    assert loose.returncode == 0, loose.stdout + loose.log
    assert loose.report["matched"] == 1


def test_replay_against_a_running_endpoint(tandem_factory, tmp_path):
    endpoint = tandem_factory(pipeline(identity("echo"), name="live"))
    capture = tmp_path / "capture.jsonl"
    capture.write_text(
        capture_line("e1", "1,2", "1,2", inferenceId="inf-e1", customAttributes="k=v") + "\n" +
        capture_line("e2", "3,4", "3,5") + "\n")
    run = run_replay(tmp_path, pipeline(identity("unused")), "--capture", str(capture),
                     "--endpoint", f"http://{endpoint.host}:{endpoint.port}")
    assert run.returncode == 1, run.stdout + run.log
    assert run.stdout.splitlines()[-1] == "replay: 2 event(s): 1 matched, 1 differed, 0 failed"
    assert "DIFFERS  event e2 (" in run.stdout and "at row 1, field 2" in run.stdout
    # The captured inference id was sent with the request; e2 had none: its event id went.
    endpoint.wait_for_log(r"invocation id=inf-e1 status=200")
    endpoint.wait_for_log(r"invocation id=e2 status=200")
    assert "unused" not in endpoint.log()


def test_custom_attributes_and_accept_are_replayed(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    echo = [identity("echo", echo_headers=1)]
    spec = pipeline(*echo, capture=folder)
    capture_traffic(tandem_factory, spec, ["1"],
                    **{"X-Amzn-SageMaker-Custom-Attributes": "k=v", "Accept": "application/json"})
    [record] = records(folder)
    assert "k=v" in record["captureData"]["endpointOutput"]["data"]
    run = run_replay(tmp_path, pipeline(*echo), "--capture", str(folder))
    assert run.returncode == 0, run.stdout + run.log


def test_a_malformed_line_is_reported_and_the_rest_replayed(tmp_path):
    capture = tmp_path / "capture.jsonl"
    capture.write_text(capture_line("e1", "1", "1") + "\n{broken\n" +
                       json.dumps({"captureData": {}}) + "\n" + capture_line("e2", "2", "2") + "\n")
    run = run_replay(tmp_path, pipeline(identity("echo")), "--capture", str(capture))
    assert run.returncode == 1, run.stdout + run.log
    lines = run.stdout.splitlines()
    assert any(line.startswith(f"MALFORMED {capture}:2: not valid JSON: parse error at line 1, "
                               "column 2: syntax error") for line in lines), lines
    assert f"MALFORMED {capture}:3: eventMetadata: missing" in lines
    assert lines[-1] == ("replay: 2 event(s): 2 matched, 0 differed, 0 failed; "
                         "2 malformed line(s) skipped")
    assert [m["line"] for m in run.report["malformedLines"]] == [2, 3]


def test_trace_shows_each_hop_and_only_selects_events(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    ids = capture_traffic(tandem_factory, three_stages(",1", folder), ["1", "2", "3"])
    traces = tmp_path / "traces"
    run = run_replay(tmp_path, three_stages(",1"), "--capture", str(folder), "--trace",
                     str(traces), "--only", ids[1], "no-such-event")
    assert run.returncode == 1, run.stdout + run.log  # one --only id is not in the capture
    assert "NOT FOUND event no-such-event (--only) is in no capture file" in run.stdout
    assert run.report["matched"] == 1 and run.report["events"] == 1
    assert sorted(p.name for p in traces.iterdir()) == [f"{ids[1]}.json"]
    trace = json.loads((traces / f"{ids[1]}.json").read_text())
    assert trace["outcome"] == "matched"
    assert trace["request"]["body"] == "2"
    hops = [(s["stage"], s["status"], s["received"]["body"], s["returned"]["body"])
            for s in trace["stages"]]
    assert hops == [("feat", 200, "2", "2,f"), ("model", 200, "2,f", "2,f,1"),
                    ("post", 200, "2,f,1", "2,f,1")]
    assert all(s["durationMs"] > 0 for s in trace["stages"])
    assert trace["answer"]["status"] == 200 and trace["answer"]["body"] == "2,f,1"


def test_a_failing_stage_fails_the_event_and_the_trace_shows_where(tmp_path):
    capture = tmp_path / "capture.jsonl"
    capture.write_text(capture_line("e1", "1,2", "3.0") + "\n")
    spec = pipeline(identity("feat"), batch_stage("model", mode="sum", fail_on="1,2"))
    traces = tmp_path / "traces"
    run = run_replay(tmp_path, spec, "--capture", str(capture), "--trace", str(traces))
    assert run.returncode == 1
    assert run.stdout.splitlines()[0].startswith("FAILED   event e1 (")
    assert "status 424 (captured 200)" in run.stdout
    trace = json.loads((traces / "e1.json").read_text())
    assert [(s["stage"], s["status"]) for s in trace["stages"]] == [("feat", 200), ("model", 500)]


def test_batch_input_records_replay_one_by_one(tmp_path):
    data = tmp_path / "input.csv"
    data.write_text("1,2\n3,4\n5,6\n")
    traces = tmp_path / "traces"
    spec = pipeline(identity("feat", append=",10"), batch_stage("model", mode="sum"))
    run = run_replay(tmp_path, spec, "--input", str(data), "--content-type", "text/csv",
                     "--split-type", "Line", "--trace", str(traces))
    assert run.returncode == 0, run.stdout + run.log
    assert run.stdout.splitlines()[-1] == (
        "replay: 3 event(s): 0 matched, 0 differed, 0 failed, 3 replayed without a captured "
        "answer")
    trace = json.loads((traces / "input.csv_2.json").read_text())
    assert trace["request"]["body"] == "3,4"
    assert trace["eventId"] == "input.csv#2"
    assert [s["received"]["body"] for s in trace["stages"]] == ["3,4", "3,4,10"]
    assert trace["answer"]["body"] == "17.0"


def test_an_unreadable_capture_exits_3(tmp_path):
    run = run_replay(tmp_path, pipeline(identity("echo")), "--capture",
                     str(tmp_path / "nothing-here"))
    assert run.returncode == 3
    assert "replay cannot run" in run.log


def test_breast_cancer_capture_then_replay_end_to_end(tandem_factory, tmp_path):
    """The worked example of docs/capture.md: serve the demo with capture, send held-out rows,
    stop; replay through the same pipeline (all match) and through one whose postprocessor has
    a stricter threshold (the changed answers, each traced to the postprocess stage)."""
    missing = [p for p in ("tandem-featurize", "tandem-xgboost", "tandem-postprocess")
               if not (bin_dir() / p).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not built in {bin_dir()}", pytrace=False)
    folder = tmp_path / "capture"
    endpoint = tandem_factory(example_spec(BREAST_CANCER, "pipeline-capture.yaml"),
                              env={"TANDEM_CAPTURE_DIR": str(folder)})
    rows = (BREAST_CANCER / "heldout.csv").read_text().splitlines()[:20]
    for row in rows:
        assert endpoint.invoke(row.encode()).status == 200
    assert endpoint.terminate() == 0
    captured = records(folder)
    assert len(captured) == 20
    assert all(len(r["tandem"]["stages"]) == 3 for r in captured)

    same = run_replay(tmp_path, example_spec(BREAST_CANCER), "--capture", str(folder),
                      name="same")
    assert same.returncode == 0, same.stdout + same.log
    assert same.stdout.splitlines()[-1] == "replay: 20 event(s): 20 matched, 0 differed, 0 failed"

    strict_model = tmp_path / "postprocess"
    shutil.copytree(BREAST_CANCER / "model" / "postprocess", strict_model)
    config = json.loads((strict_model / "postprocess.json").read_text())
    config["threshold"] = 0.9
    (strict_model / "postprocess.json").write_text(json.dumps(config))
    strict = example_spec(BREAST_CANCER)
    strict["stages"][2]["model_dir"] = str(strict_model)
    run = run_replay(tmp_path, strict, "--capture", str(folder), name="strict")
    assert run.returncode == 1, run.stdout + run.log
    flipped = set()
    for record in captured:
        [prediction] = json.loads(record["captureData"]["endpointOutput"]["data"])["predictions"]
        if prediction["label"] == "malignant" and prediction["score"] < 0.9:
            flipped.add(record["eventMetadata"]["eventId"])
    assert flipped, "the held-out rows should include a malignant score below 0.9"
    differed = [r for r in run.report["results"] if r["outcome"] == "differed"]
    assert {r["eventId"] for r in differed} == flipped
    for result in differed:
        assert result["difference"]["where"] == "$.predictions[0].label"
        assert result["firstDifferingStage"]["stage"] == "postprocess"
        assert result["firstDifferingStage"]["container"] == "container-3"
