"""JSON nested 20,000 levels deep from outside, on real processes: a 40 KB request captured by a
capturing endpoint and replayed (equal, and differing from what was captured), a capture file
whose line itself nests that deep, and a stage's /execution-parameters answer read by
`tandem transform`. Walking, copying or printing such a value recurses once per level and
overflowed the stack (exit 139, no report); every parse now refuses more than 512 levels first,
saying where."""
import json

from capture_support import capture_line, records, run_replay
from harness import identity
from transform_support import batch_stage, pipeline, run_transform

LEVELS = 20_000


def deep(levels: int = LEVELS, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


def replay_pipeline(capture=None):
    spec = {"version": 1, "name": "deep", "stages": [identity("echo")]}
    if capture is not None:
        spec["capture"] = {"destination": str(capture), "rotate_s": 3600, "stages": True}
    return spec


def assert_not_signalled(returncode: int, output: str):
    """Neither killed by a signal (exit 139 in a plain build) nor stopped by a sanitizer."""
    assert returncode >= 0, f"killed by signal {-returncode}:\n{output[-3000:]}"
    assert returncode not in (134, 139), output[-3000:]
    assert "AddressSanitizer" not in output, output[-3000:]


def test_a_captured_body_nested_20000_deep_replays_without_a_crash(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    tandem = tandem_factory(replay_pipeline(folder))
    body = deep().encode()
    assert len(body) > 40_000
    res = tandem.invoke(body, "application/json")
    assert res.status == 200, res
    assert res.body == body
    assert tandem.terminate() == 0
    [record] = records(folder)
    assert record["captureData"]["endpointOutput"]["data"] == deep()

    run = run_replay(tmp_path, replay_pipeline(), "--capture", str(folder))
    assert_not_signalled(run.returncode, run.stdout + run.log)
    assert run.returncode == 0, run.stdout + run.log
    assert run.stdout.splitlines()[-1] == "replay: 1 event(s): 1 matched, 0 differed, 0 failed"


def test_a_differing_answer_nested_20000_deep_is_reported_compared_as_bytes(tmp_path):
    folder = tmp_path / "capture"
    folder.mkdir()
    captured, replayed = deep(inner="1"), deep(inner="2")
    (folder / "deep.jsonl").write_text(
        capture_line("ev-deep", replayed, captured, content_type="application/json") + "\n")

    run = run_replay(tmp_path, replay_pipeline(), "--capture", str(folder))
    assert_not_signalled(run.returncode, run.stdout + run.log)
    assert run.returncode == 1, run.stdout + run.log
    first = run.stdout.splitlines()[0]
    assert first == (f"DIFFERS  event ev-deep ({folder / 'deep.jsonl'}:1) at byte {LEVELS} "
                     "(captured answer: JSON nested deeper than 512 levels at byte 512; "
                     "compared byte for byte)"), first
    assert run.report["differed"] == 1


def test_a_capture_line_nested_20000_deep_is_malformed_with_file_and_line(tmp_path):
    folder = tmp_path / "capture"
    folder.mkdir()
    good = capture_line("ev-good", "1,2", "1,2")
    (folder / "mixed.jsonl").write_text(good + "\n" + deep() + "\n" +
                                        '{"captureData":' + deep() + "}\n")

    run = run_replay(tmp_path, replay_pipeline(), "--capture", str(folder))
    assert_not_signalled(run.returncode, run.stdout + run.log)
    assert run.returncode == 1, run.stdout + run.log
    out = run.stdout
    assert (f"MALFORMED {folder / 'mixed.jsonl'}:2: JSON nested deeper than 512 levels at "
            "byte 512") in out, out
    assert (f"MALFORMED {folder / 'mixed.jsonl'}:3: JSON nested deeper than 512 levels at "
            "byte 526") in out, out
    assert out.splitlines()[-1].startswith("replay: 1 event(s): 1 matched, 0 differed, 0 failed")
    assert [(m["file"], m["line"]) for m in run.report["malformedLines"]] == [
        (str(folder / "mixed.jsonl"), 2), (str(folder / "mixed.jsonl"), 3)]


def test_transform_ignores_an_execution_parameters_answer_nested_20000_deep(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_bytes(b"1,2\n3,4\n")
    # 40 KB: /execution-parameters answers are read up to 64 KiB.
    answer = '{"MaxConcurrentTransforms": 2, "x": ' + deep() + "}"
    spec = pipeline(batch_stage("first", exec_params=answer))
    spec["execution_parameters"] = {"batch_strategy": "MULTI_RECORD"}  # merged with the answer
    run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                        str(tmp_path / "out"), "--split-type", "Line")
    assert_not_signalled(run.returncode, run.log)
    assert run.returncode == 0, run.log
    assert ("first stage's /execution-parameters answer ignored: JSON nested deeper than 512 "
            "levels at byte 547") in run.log, run.log
    assert run.report["MaxConcurrentTransforms"] == 1  # the answer's 2 is not taken
    assert (tmp_path / "out" / "a.csv.out").read_bytes() == b"1,2\n3,4\n"
