"""DataProcessing in `tandem transform`: InputFilter, JoinSource Input and OutputFilter on
CSV and JSON Lines, through a real stage that scores what it receives."""
import json

from transform_support import batch_stage, pipeline, run_transform, stage_log


def test_csv_drop_id_then_join_and_keep_id_and_prediction(tmp_path):
    (tmp_path / "in").mkdir()
    rows = [f"id{i},{i},{i * 2}" for i in range(25)]
    (tmp_path / "in/rows.csv").write_text("\n".join(rows) + "\n")
    log = tmp_path / "stage.jsonl"
    run = run_transform(tmp_path, pipeline(batch_stage("score", mode="sum", record=log)),
                        "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--content-type", "text/csv", "--split-type", "Line",
                        "--input-filter", "$[1:]", "--join-source", "Input",
                        "--output-filter", "$[0,-1]", "--assemble-with", "Line",
                        "--max-payload-mb", "1")
    assert run.returncode == 0, run.log
    expected = [f"id{i},{float(i * 3)!r}" for i in range(25)]
    assert (tmp_path / "out/rows.csv.out").read_text().splitlines() == expected
    assert len(stage_log(log)) == 1  # one MultiRecord batch, ids filtered out before sending


def test_jsonlines_filter_and_join_under_sagemaker_output(tmp_path):
    (tmp_path / "in").mkdir()
    records = [{"id": i, "values": [i, 1, 2], "note": "x"} for i in range(6)]
    (tmp_path / "in/r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run = run_transform(tmp_path, pipeline(batch_stage("score", mode="sum")),
                        "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--content-type", "application/jsonlines", "--split-type", "Line",
                        "--input-filter", "$['values']", "--join-source", "Input",
                        "--output-filter", "$['id','SageMakerOutput']", "--assemble-with",
                        "Line", "--strategy", "SingleRecord")
    assert run.returncode == 0, run.log
    got = [json.loads(line) for line in (tmp_path / "out/r.jsonl.out").read_text().splitlines()]
    assert got == [{"id": i, "SageMakerOutput": {"sum": i + 3}} for i in range(6)]


def test_join_count_mismatch_fails_the_object_and_names_its_records(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_text("1,2\n3,4\n")
    (tmp_path / "in/b.csv").write_text("5,6")
    # The stage answers only the first line of a batch: a join cannot pair the records.
    run = run_transform(tmp_path, pipeline(batch_stage("lossy", mode="first")), "--input",
                        str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--content-type", "text/csv", "--split-type", "Line", "--join-source",
                        "Input", "--assemble-with", "Line", "--accept", "text/csv")
    assert run.returncode == 1, run.log
    assert not (tmp_path / "out/a.csv.out").exists()
    assert (tmp_path / "out/b.csv.out").read_text() == "5,6,5,6\n"
    failure = run.object_report("a.csv")["Failure"]
    assert failure["Error"] == "DataProcessingError"
    assert failure["FirstRecord"] == 0 and failure["RecordCount"] == 2
    assert "the response has 1 lines, expected 2" in failure["Message"], failure
    line = json.loads((tmp_path / "out/a.csv.out.errors").read_text())
    assert line["data"] == "1,2\n3,4\n"
