"""`tandem transform`: every split type and batch strategy, gzip, manifests, subfolders,
ordering under concurrency, the SAGEMAKER_* environment and /execution-parameters, job.json,
and a real model, through real stage processes (tandem-identity, a Python stage, the
breast-cancer pipeline)."""
import json
import random
import re
import shutil
import subprocess

import pytest

from harness import REPO_ROOT
from framing import recordio, recordio_part, tfrecord
from transform_support import (batch_stage, csv_lines, gzipped, identity_pipeline, outputs,
                               pipeline, run_transform, stage_log)

MiB = 1024 * 1024


def make_inputs(root, files: dict[str, bytes]):
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_line_multirecord_through_three_stages_keeps_bytes_and_subfolders(tmp_path):
    big = csv_lines(60_000, width=4)  # about 1.8 MiB: several 1 MiB batches
    files = {"a.csv": big, "sub/b.csv": csv_lines(5), "sub/deeper/c.csv": b"7,8,9"}
    make_inputs(tmp_path / "in", files)
    log = tmp_path / "stage.jsonl"
    spec = pipeline(batch_stage("first", record=log), *identity_pipeline(2)["stages"])
    run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                        str(tmp_path / "out"), "--content-type", "text/csv", "--split-type",
                        "Line", "--max-payload-mb", "1", "--max-concurrent", "4")
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {f"{k}.out": v for k, v in files.items()}
    calls = stage_log(log)
    assert all(c["bytes"] <= MiB for c in calls)
    assert all(c["content_type"] == "text/csv" for c in calls)
    assert len(calls) >= 2 + 2  # the big file needs at least two requests
    report = run.report
    assert report["TransformJobStatus"] == "Completed"
    assert report["Totals"]["Objects"] == 3 and report["Totals"]["Failed"] == 0
    assert run.object_report("a.csv")["Records"] == 60_000
    assert run.object_report("a.csv")["Requests"] == len(calls) - 2
    assert run.object_report("sub/b.csv")["Output"].endswith("out/sub/b.csv.out")


def test_single_record_sends_one_line_per_request_and_assemble_line_ends_each(tmp_path):
    lines = [f"{i},{i * i}" for i in range(40)]
    make_inputs(tmp_path / "in", {"x.csv": ("\n".join(lines)).encode()})  # no final newline
    log = tmp_path / "stage.jsonl"
    run = run_transform(tmp_path, pipeline(batch_stage("only", record=log)), "--input",
                        str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--content-type", "text/csv", "--split-type", "Line", "--strategy",
                        "SingleRecord", "--assemble-with", "Line")
    assert run.returncode == 0, run.log
    assert len(stage_log(log)) == 40
    assert (tmp_path / "out/x.csv.out").read_text() == "".join(line + "\n" for line in lines)


def test_assemble_none_concatenates_responses(tmp_path):
    data = b"a,1\nb,2\nc,3"
    make_inputs(tmp_path / "in", {"x.csv": data})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "Line",
                        "--strategy", "SingleRecord", "--assemble-with", "None")
    assert run.returncode == 0, run.log
    assert (tmp_path / "out/x.csv.out").read_bytes() == data


def test_split_none_sends_each_object_whole(tmp_path):
    files = {f"f{i}.bin": bytes(random.Random(i).randrange(256) for _ in range(3000))
             for i in range(3)}
    make_inputs(tmp_path / "in", files)
    log = tmp_path / "stage.jsonl"
    run = run_transform(tmp_path, pipeline(batch_stage("only", record=log)), "--input",
                        str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--content-type", "application/octet-stream")
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {f"{k}.out": v for k, v in files.items()}
    assert sorted(c["bytes"] for c in stage_log(log)) == [3000, 3000, 3000]


def test_max_payload_zero_streams_each_object_in_one_chunked_request(tmp_path):
    files = {"big.csv": csv_lines(200_000, width=4),  # about 6.8 MiB, past the default limit
             "small.csv": b"1,2\n3,4\n", "empty.csv": b""}
    make_inputs(tmp_path / "in", files)
    log = tmp_path / "stage.jsonl"
    spec = pipeline(batch_stage("first", record=log), *identity_pipeline(2)["stages"])
    run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                        str(tmp_path / "out"), "--content-type", "text/csv", "--split-type",
                        "Line", "--max-payload-mb", "0", "--strategy", "MultiRecord")
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {f"{k}.out": v for k, v in files.items()}
    calls = stage_log(log)
    # One request per object that has records, sent chunked: never held whole by tandem.
    assert sorted(c["bytes"] for c in calls) == sorted([len(files["big.csv"]), 8])
    assert all(c["chunked"] for c in calls)
    assert run.object_report("big.csv")["Requests"] == 1
    assert run.object_report("big.csv")["Records"] == 200_000


def test_a_streamed_object_with_corrupt_framing_fails_with_the_record_named(tmp_path):
    good = recordio([b"a" * 100, b"b" * 50])
    make_inputs(tmp_path / "in", {"r.rec": good + b"\x00\x01\x02\x03garbage-after-records"})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "RecordIO",
                        "--max-payload-mb", "0")
    assert run.returncode == 1, run.log
    failure = run.object_report("r.rec")["Failure"]
    assert failure["Error"] == "InputError" and "record 2" in failure["Message"], failure
    assert not (tmp_path / "out/r.rec.out").exists()


def test_recordio_multi_record_keeps_framing_single_record_sends_payloads(tmp_path):
    payloads = [b"alpha", b"be", b"gamma-delta-epsilon", b""]
    # A multi-part record: start, middle, end parts make one logical record.
    multipart = recordio_part(b"one-", 1) + recordio_part(b"two-", 2) + recordio_part(b"three", 3)
    data = recordio(payloads[:2]) + multipart + recordio(payloads[2:])
    make_inputs(tmp_path / "in", {"r.rec": data})
    multi = run_transform(tmp_path, identity_pipeline(2), "--input", str(tmp_path / "in"),
                          "--output", str(tmp_path / "multi"), "--split-type", "RecordIO",
                          "--content-type", "application/x-recordio")
    assert multi.returncode == 0, multi.log
    assert (tmp_path / "multi/r.rec.out").read_bytes() == data
    assert multi.object_report("r.rec")["Records"] == 5
    log = tmp_path / "stage.jsonl"
    single = run_transform(tmp_path, pipeline(batch_stage("only", record=log)), "--input",
                           str(tmp_path / "in"), "--output", str(tmp_path / "single"),
                           "--split-type", "RecordIO", "--strategy", "SingleRecord",
                           "--content-type", "application/x-recordio")
    assert single.returncode == 0, single.log
    # Padding and headers removed; the multi-part record reassembled with its magic bytes
    # back (RecordIO splits records at the magic number).
    out = (tmp_path / "single/r.rec.out").read_bytes()
    assert out.startswith(b"alphabe") and out.endswith(b"gamma-delta-epsilon")
    assert b"one-" in out and b"three" in out
    assert len(stage_log(log)) == 5


def test_tfrecord_single_record_and_a_corrupt_crc_named(tmp_path):
    records = [b"first", b"second record", b"x" * 1000]
    make_inputs(tmp_path / "in", {"good.tfrecord": tfrecord(records)})
    bad = bytearray(tfrecord(records))
    bad[-1] ^= 0xFF  # the last record's data CRC
    make_inputs(tmp_path / "in", {"bad.tfrecord": bytes(bad)})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "TFRecord",
                        "--strategy", "SingleRecord")
    assert run.returncode == 1, run.log
    assert (tmp_path / "out/good.tfrecord.out").read_bytes() == b"".join(records)
    assert not (tmp_path / "out/bad.tfrecord.out").exists()
    failure = run.object_report("bad.tfrecord")["Failure"]
    assert failure["Error"] == "InputError"
    assert "record 2" in failure["Message"] and "CRC" in failure["Message"], failure
    errors = (tmp_path / "out/bad.tfrecord.out.errors").read_text().splitlines()
    assert json.loads(errors[0])["input"].endswith("bad.tfrecord")
    assert re.search(r"FAILED .*bad\.tfrecord: InputError: record 2", run.log), run.log


def test_gzip_inputs_are_inflated_as_a_stream(tmp_path):
    plain = csv_lines(20_000)
    member_a, member_b = plain[: len(plain) // 2], plain[len(plain) // 2:]
    make_inputs(tmp_path / "in", {"one.csv.gz": gzipped(plain),
                                   "two.csv.gz": gzipped(member_a) + gzipped(member_b)})
    run = run_transform(tmp_path, identity_pipeline(2), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "Line",
                        "--compression", "Gzip", "--max-payload-mb", "1")
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {"one.csv.gz.out": plain, "two.csv.gz.out": plain}
    assert run.object_report("one.csv.gz")["Records"] == 20_000


def test_manifest_names_the_objects_and_their_output_names(tmp_path):
    make_inputs(tmp_path / "data", {"x/a.csv": b"1\n", "x/b.csv": b"2\n", "c.csv": b"3\n"})
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"prefix": f"{tmp_path / 'data'}/"}, "x/b.csv", "c.csv"]))
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(manifest),
                        "--s3-data-type", "ManifestFile", "--output", str(tmp_path / "out"),
                        "--split-type", "Line")
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {"x/b.csv.out": b"2\n", "c.csv.out": b"3\n"}


def test_ordering_is_kept_under_concurrency(tmp_path):
    lines = [f"{i},{i % 7}" for i in range(1500)]
    make_inputs(tmp_path / "in", {"o.csv": ("\n".join(lines) + "\n").encode()})
    run = run_transform(tmp_path, pipeline(batch_stage("jittery", jitter_ms=8)), "--input",
                        str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--split-type", "Line", "--strategy", "SingleRecord",
                        "--assemble-with", "Line", "--max-concurrent", "8")
    assert run.returncode == 0, run.log
    assert (tmp_path / "out/o.csv.out").read_text().splitlines() == lines


def test_execution_parameters_fill_what_the_job_leaves_unset(tmp_path):
    make_inputs(tmp_path / "in", {"a.csv": csv_lines(10)})
    log = tmp_path / "stage.jsonl"
    answer = {"MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD",
              "MaxPayloadInMB": 2}
    spec = pipeline(batch_stage("first", record=log, exec_params=json.dumps(answer)),
                    *identity_pipeline(1)["stages"])
    run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                        str(tmp_path / "out"), "--split-type", "Line", "--env",
                        "TRANSFORM_TEST_FLAG=on")
    assert run.returncode == 0, run.log
    assert run.report["MaxConcurrentTransforms"] == 3
    assert run.report["BatchStrategy"] == "SingleRecord"
    assert run.report["MaxPayloadInMB"] == 2
    calls = stage_log(log)
    assert len(calls) == 10  # one record per request
    env = calls[0]["env"]
    assert env["SAGEMAKER_BATCH"] == "true"
    # Only what the job itself set is exported, as SageMaker does.
    assert "SAGEMAKER_MAX_PAYLOAD_IN_MB" not in env and "SAGEMAKER_BATCH_STRATEGY" not in env

    log2 = tmp_path / "stage2.jsonl"
    spec2 = pipeline(batch_stage("first", record=log2, exec_params=json.dumps(answer)))
    run2 = run_transform(tmp_path, spec2, "--input", str(tmp_path / "in"), "--output",
                         str(tmp_path / "out2"), "--split-type", "Line", "--max-payload-mb",
                         "1", "--strategy", "MultiRecord", "--max-concurrent", "2")
    assert run2.returncode == 0, run2.log
    env2 = stage_log(log2)[0]["env"]
    assert env2["SAGEMAKER_MAX_PAYLOAD_IN_MB"] == "1"
    assert env2["SAGEMAKER_BATCH_STRATEGY"] == "MULTI_RECORD"
    assert env2["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] == "2"
    assert len(stage_log(log2)) == 1


def test_a_boto3_job_definition_runs_unchanged(tmp_path):
    make_inputs(tmp_path / "in", {"a.csv": b"1,2\n3,4\n"})
    job = {
        "TransformJobName": "nightly-scoring",
        "ModelName": "ids-model",
        "MaxConcurrentTransforms": 2,
        "MaxPayloadInMB": 1,
        "BatchStrategy": "MultiRecord",
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": 30, "InvocationsMaxRetries": 1},
        "Environment": {"TRANSFORM_TEST_FLAG": "1"},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                            "S3Uri": str(tmp_path / "in")}},
            "ContentType": "text/csv", "CompressionType": "None", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": str(tmp_path / "out"), "AssembleWith": "Line",
                            "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"},
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    run = run_transform(tmp_path, identity_pipeline(1), "--job", str(tmp_path / "job.json"))
    assert run.returncode == 0, run.log
    assert "TransformResources: ignored" in run.log
    assert run.report["TransformJobName"] == "nightly-scoring"
    assert run.report["ModelName"] == "ids-model"
    assert run.report["ModelClientConfig"] == {"InvocationsTimeoutInSeconds": 30,
                                               "InvocationsMaxRetries": 1}
    assert (tmp_path / "out/a.csv.out").read_bytes() == b"1,2\n3,4\n"


def test_metrics_file_holds_the_progress_for_node_exporter(tmp_path):
    make_inputs(tmp_path / "in", {"a.csv": csv_lines(30), "b.csv": csv_lines(12)})
    metrics = tmp_path / "textfile" / "tandem.prom"
    metrics.parent.mkdir()
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "Line",
                        "--metrics-file", str(metrics))
    assert run.returncode == 0, run.log
    text = metrics.read_text()
    job = run.report["TransformJobName"]
    assert f'tandem_transform_objects{{job="{job}",state="done"}} 2' in text
    assert f'tandem_transform_records_total{{job="{job}"}} 42' in text
    assert f'tandem_transform_running{{job="{job}"}} 0' in text
    assert f'tandem_transform_success{{job="{job}"}} 1' in text
    assert list(metrics.parent.iterdir()) == [metrics]  # no temporary file left
    promtool = shutil.which("promtool")
    if promtool:
        check = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                               capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_invalid_job_is_rejected_before_any_stage_starts(tmp_path):
    make_inputs(tmp_path / "in", {"a.csv": b"1\n"})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "Line",
                        "--content-type", "text/csv", "--input-filter", "$..deep")
    assert run.returncode == 2, run.log
    assert "DataProcessing.InputFilter \"$..deep\": position 2: recursive descent" in run.log, \
        run.log
    assert "started: pid" not in run.log
    assert not (tmp_path / "out").exists()


def test_breast_cancer_model_scores_every_heldout_row(tmp_path):
    example = REPO_ROOT / "examples" / "breast-cancer"
    spec = (example / "pipeline.yaml").read_text()
    import yaml
    loaded = yaml.safe_load(spec)
    for stage in loaded["stages"]:
        stage["model_dir"] = str(example / stage["model_dir"])
    run = run_transform(tmp_path, loaded, "--input", str(example / "heldout.csv"), "--output",
                        str(tmp_path / "out"), "--content-type", "text/csv", "--split-type",
                        "Line", "--accept", "application/jsonlines", "--assemble-with", "Line",
                        "--max-concurrent", "2")
    assert run.returncode == 0, run.log
    got = [json.loads(line) for line in (tmp_path / "out/heldout.csv.out").read_text().splitlines()]
    expected = [json.loads(line) for line in (example / "expected.jsonl").read_text().splitlines()]
    assert len(got) == len(expected) == 114
    for g, e in zip(got, expected):
        assert g["label"] == e["label"]
        assert g["score"] == pytest.approx(e["score"], abs=1e-6)
