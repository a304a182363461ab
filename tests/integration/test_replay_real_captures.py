"""`tandem replay` on capture files shaped as others write them (our own records, in their
shapes): times without a zone, with microseconds or offsets, as the SageMaker Python SDK's
Model Monitor integration tests upload them; a null endpointOutput.observedContentType, as
AWS's LLM-monitoring capture schema requires; null mode and encoding; and a time that cannot be
read at all, which is replayed with a warning counted in the report, not dropped."""
import json

from capture_support import run_replay
from harness import identity


def pipeline(*stages):
    return {"version": 1, "name": "real", "stages": list(stages)}


def two_stages():
    return pipeline(identity("feat", append=",f"), identity("model", append=",1"))


def payload(mode: str, data: str, content_type="text/csv", encoding="CSV") -> dict:
    return {"observedContentType": content_type, "mode": mode, "data": data,
            "encoding": encoding}


def record(event_id: str, inference_time, endpoint_input: dict, endpoint_output: dict) -> str:
    return json.dumps({"captureData": {"endpointInput": endpoint_input,
                                       "endpointOutput": endpoint_output},
                       "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time},
                       "eventVersion": "0"})


def csv_record(event_id: str, inference_time, row: str) -> str:
    """A record the two stages answer: the row with ",f,1" appended."""
    return record(event_id, inference_time, payload("INPUT", row),
                  payload("OUTPUT", row + ",f,1", "text/csv; charset=utf-8"))


def test_times_without_a_zone_and_with_offsets_replay_and_match(tmp_path):
    times = ["2024-05-01T12:34:56.789012",  # the SDK's Model Monitor integration tests
             "2024-05-01T12:34:56",
             "2024-05-01T12:34:56+00:00",
             "2024-05-01T14:34:56.5+02:00",
             "2024-05-01T07:34:56-05:00",
             "2024-05-01T12:34:56.123Z"]
    # SageMaker's layout: <endpoint>/AllTraffic/yyyy/mm/dd/hh/<file>.jsonl
    hour = tmp_path / "capture" / "real" / "AllTraffic" / "2024" / "05" / "01" / "12"
    hour.mkdir(parents=True)
    (hour / "34-56-789-sdk.jsonl").write_text(
        "".join(csv_record(f"sdk-{i}", t, f"{i},{i * 2}") + "\n" for i, t in enumerate(times)))
    run = run_replay(tmp_path, two_stages(), "--capture", str(tmp_path / "capture"))
    assert run.returncode == 0, run.stdout + run.log
    assert run.stdout.splitlines() == ["replay: 6 event(s): 6 matched, 0 differed, 0 failed"]
    assert run.report["matched"] == 6 and run.report["warnings"] == 0
    assert run.report["malformedLines"] == []
    assert [r["eventId"] for r in run.report["results"]] == [f"sdk-{i}" for i in range(6)]


def test_null_content_type_mode_and_encoding_replay_and_match(tmp_path):
    prompt = {"inputs": "What is the capital of France?", "parameters": {"max_new_tokens": 16}}
    echoed = {"parameters": {"max_new_tokens": 16.0}, "inputs": "What is the capital of France?"}
    changed = {"inputs": "What is the capital of France?", "parameters": {"max_new_tokens": 8}}
    capture = tmp_path / "llm.jsonl"
    capture.write_text("\n".join([
        # AWS's LLM-monitoring shape: the answer's observedContentType is null. Compared as
        # the replayed answer's type says (JSON: key order and 16 vs 16.0 do not matter).
        record("llm-1", "2024-05-01T12:34:56Z",
               payload("INPUT", json.dumps(prompt), "application/json", "JSON"),
               payload("OUTPUT", json.dumps(echoed), None, "JSON")),
        # ... and still compared: a changed value is found.
        record("llm-2", "2024-05-01T12:34:57Z",
               payload("INPUT", json.dumps(prompt), "application/json", "JSON"),
               payload("OUTPUT", json.dumps(changed), None, "JSON")),
        # Everything that may be null is: sent without a Content-Type, the data as written.
        record("nulls", "2024-05-01T12:34:58Z",
               {"observedContentType": None, "mode": None, "data": "plain words",
                "encoding": None},
               {"observedContentType": None, "mode": None, "data": "plain words",
                "encoding": None}),
    ]) + "\n")
    run = run_replay(tmp_path, pipeline(identity("guard"), identity("llm")),
                     "--capture", str(capture))
    assert run.returncode == 1, run.stdout + run.log
    lines = run.stdout.splitlines()
    assert lines[0] == (f"DIFFERS  event llm-2 ({capture}:2) at $.parameters.max_new_tokens"), lines
    assert lines[-1] == "replay: 3 event(s): 2 matched, 1 differed, 0 failed", lines
    assert not any(line.startswith("MALFORMED") for line in lines), lines
    assert [r["outcome"] for r in run.report["results"]] == ["matched", "differed", "matched"]


def test_a_record_whose_time_cannot_be_read_is_replayed_with_a_warning(tmp_path):
    capture = tmp_path / "capture.jsonl"
    capture.write_text(csv_record("good", "2024-05-01T12:34:56Z", "1,2") + "\n" +
                       csv_record("words", "yesterday at noon", "3,4") + "\n" +
                       csv_record("epoch", 1714566896, "5,6") + "\n" +
                       csv_record("no-time", None, "7,8") + "\n")
    run = run_replay(tmp_path, two_stages(), "--capture", str(capture))
    assert run.returncode == 0, run.stdout + run.log
    expected = "(expected yyyy-mm-ddThh:mm:ss[.fraction][Z|+hh:mm|-hh:mm])"
    assert run.stdout.splitlines() == [
        f"WARNING  event words ({capture}:2): eventMetadata.inferenceTime: cannot read "
        f"\"yesterday at noon\" as a time {expected}",
        f"WARNING  event epoch ({capture}:3): eventMetadata.inferenceTime: cannot read "
        f"1714566896 as a time {expected}",
        "replay: 4 event(s): 4 matched, 0 differed, 0 failed; 2 warning(s)"]
    report = run.report
    assert report["warnings"] == 2 and report["allMatched"] is True
    assert report["malformedLines"] == []
    assert [r["outcome"] for r in report["results"]] == ["matched"] * 4
    assert [len(r.get("warnings", [])) for r in report["results"]] == [0, 1, 1, 0]
    # --only: a warning is counted for the events replayed, not for those skipped.
    only = run_replay(tmp_path, two_stages(), "--capture", str(capture), "--only", "good",
                      "epoch", name="only")
    assert only.returncode == 0, only.stdout + only.log
    assert only.stdout.splitlines()[-1] == (
        "replay: 2 event(s): 2 matched, 0 differed, 0 failed; 1 warning(s)")
    assert only.report["warnings"] == 1
