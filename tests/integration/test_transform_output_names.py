"""Output names of `tandem transform`: an input object's output keeps its key relative to the
input prefix, whether or not the prefix ends in "/", as SageMaker writes them. The first three
tests are real SageMaker runs' layouts, bucket and keys as they were (issue 13): the SDK's
integration test, the scikit bring-your-own-container notebook and the TFRecord batch notebook.
Then the cases around them: a trailing slash, one object, a prefix that ends inside a name, two
keys that would write one output, local folders, manifests, --resume, and the temporary files
a SIGKILLed job leaves, removed by --resume."""
import json
import re
import signal
import subprocess

import pytest

from harness import process_env, wait_until
from s3_support import s3_endpoint, s3_env  # noqa: F401 (fixture)
from transform_support import (batch_stage, csv_lines, identity_pipeline, outputs, pipeline,
                               run_transform, transform_command)

BUCKET = "bkt"


@pytest.fixture
def bkt(s3_endpoint):
    """A boto3 client and the bucket `bkt`, emptied and removed after the test."""
    import boto3
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def put(client, objects: dict[str, bytes]) -> None:
    for key, data in objects.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=data)


def written(client, prefix: str) -> dict[str, bytes]:
    """Every object under `prefix`, by key relative to it."""
    result = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            result[obj["Key"][len(prefix):]] = body
    return result


def transform(tmp_path, endpoint, input_uri, output_uri, *extra):
    return run_transform(tmp_path, identity_pipeline(1), "--input", input_uri, "--output",
                         output_uri, "--split-type", "Line", *extra, env=s3_env(endpoint))


# The three layouts of real SageMaker runs: an S3Prefix without a trailing slash.

def test_the_sdk_integration_test_layout(tmp_path, bkt, s3_endpoint):
    data = csv_lines(5)
    put(bkt, {"integ-test-data/mnist/transform/data.csv": data})
    run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/integ-test-data/mnist/transform",
                    f"s3://{BUCKET}/transform-job-output")
    assert run.returncode == 0, run.log
    assert written(bkt, "transform-job-output/") == {"data.csv.out": data}


def test_the_scikit_byo_notebook_layout(tmp_path, bkt, s3_endpoint):
    iris = csv_lines(150, width=4)
    put(bkt, {"DEMO-scikit-byo-iris/iris.csv": iris})
    run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/DEMO-scikit-byo-iris",
                    f"s3://{BUCKET}/output")
    assert run.returncode == 0, run.log
    assert written(bkt, "output/") == {"iris.csv.out": iris}


def test_the_tfrecord_notebook_layout(tmp_path, bkt, s3_endpoint):
    records = csv_lines(30, width=4)  # the name is what matters here, not the framing
    put(bkt, {"batch_input/iris_test.tfrecords": records})
    run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/batch_input",
                    f"s3://{BUCKET}/batch_output")
    assert run.returncode == 0, run.log
    assert written(bkt, "batch_output/") == {"iris_test.tfrecords.out": records}


# The cases around them.

INPUTS = {"in/a.csv": csv_lines(2), "in/sub/b.csv": csv_lines(3, 2)}
NAMED = {"a.csv.out": INPUTS["in/a.csv"], "sub/b.csv.out": INPUTS["in/sub/b.csv"]}


@pytest.mark.parametrize("input_prefix", ["in/", "in"])
def test_a_prefix_with_or_without_a_slash_names_outputs_alike(tmp_path, bkt, s3_endpoint,
                                                              input_prefix):
    put(bkt, {**INPUTS, "inbox/c.csv": csv_lines(1)})  # shares the string prefix "in"
    run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/{input_prefix}",
                    f"s3://{BUCKET}/out")
    assert run.returncode == 0, run.log
    expected = dict(NAMED)
    if input_prefix == "in":  # S3Prefix is a string prefix: inbox/c.csv is selected too
        expected["inbox/c.csv.out"] = csv_lines(1)
    assert written(bkt, "out/") == expected


def test_a_single_object_is_named_by_its_last_segment(tmp_path, bkt, s3_endpoint):
    put(bkt, INPUTS)
    run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/in/sub/b.csv", f"s3://{BUCKET}/out/")
    assert run.returncode == 0, run.log
    assert written(bkt, "out/") == {"b.csv.out": INPUTS["in/sub/b.csv"]}


def test_a_prefix_ending_inside_a_name_keeps_that_name_whole(tmp_path, bkt, s3_endpoint):
    put(bkt, {"in/data.csv": csv_lines(2), "in/dat/b.csv": csv_lines(1), "in/x.csv": b"9\n"})
    run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/in/da", f"s3://{BUCKET}/out")
    assert run.returncode == 0, run.log
    assert written(bkt, "out/") == {"data.csv.out": csv_lines(2), "dat/b.csv.out": csv_lines(1)}


def test_two_keys_that_would_write_one_output_fail_the_job_before_any_work(tmp_path, bkt,
                                                                          s3_endpoint):
    # `in/sub` names the folder in/sub/ and ends inside the name in/subway: both are
    # subway/a.csv.
    put(bkt, {"in/sub/subway/a.csv": b"1\n", "in/subway/a.csv": b"2\n", "in/sub/c.csv": b"3\n"})
    run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/in/sub", f"s3://{BUCKET}/out")
    assert run.returncode != 0, run.log
    assert (f"s3://{BUCKET}/in/sub/subway/a.csv and s3://{BUCKET}/in/subway/a.csv would both "
            'write "subway/a.csv.out"') in run.log
    assert "end the prefix with '/'" in run.log
    assert written(bkt, "out/") == {}


def test_a_local_folder_with_or_without_a_slash_and_a_local_partial_name(tmp_path):
    for key, data in {**INPUTS, "in/data.csv": b"7\n", "in/dat/d.csv": b"8\n"}.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(data)
    everything = {**NAMED, "data.csv.out": b"7\n", "dat/d.csv.out": b"8\n"}
    for name, input_path in [("slash", f"{tmp_path / 'in'}/"), ("plain", str(tmp_path / "in")),
                             ("uri", f"file://{tmp_path / 'in'}")]:
        run = run_transform(tmp_path, identity_pipeline(1), "--input", input_path, "--output",
                            str(tmp_path / name), "--split-type", "Line")
        assert run.returncode == 0, run.log
        assert outputs(tmp_path / name) == everything, name
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in" / "da"),
                        "--output", str(tmp_path / "partial"), "--split-type", "Line")
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "partial") == {"data.csv.out": b"7\n", "dat/d.csv.out": b"8\n"}


def test_manifest_entries_are_named_relative_to_the_manifest_prefix(tmp_path, bkt, s3_endpoint):
    put(bkt, {"data/x/a.csv": b"1\n", "data/part-1.csv": b"2\n"})
    manifests = {
        "slash": [{"prefix": f"s3://{BUCKET}/data/"}, "x/a.csv"],       # the documented form
        "plain": [{"prefix": f"s3://{BUCKET}/data"}, "/x/a.csv"],       # a folder, no slash
        "partial": [{"prefix": f"s3://{BUCKET}/data/part-"}, "1.csv"],  # inside a name
    }
    expected = {"slash": {"x/a.csv.out": b"1\n"}, "plain": {"x/a.csv.out": b"1\n"},
                "partial": {"part-1.csv.out": b"2\n"}}
    for name, manifest in manifests.items():
        put(bkt, {f"manifests/{name}.json": json.dumps(manifest).encode()})
        run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/manifests/{name}.json",
                        f"s3://{BUCKET}/out-{name}", "--s3-data-type", "ManifestFile")
        assert run.returncode == 0, run.log
        assert written(bkt, f"out-{name}/") == expected[name], name


def test_a_manifest_listing_an_object_twice_is_refused(tmp_path, bkt, s3_endpoint):
    put(bkt, {"data/a.csv": b"1\n",
              "m.json": json.dumps([{"prefix": f"s3://{BUCKET}/data/"}, "a.csv", "a.csv"])})
    run = transform(tmp_path, s3_endpoint, f"s3://{BUCKET}/m.json", f"s3://{BUCKET}/out",
                    "--s3-data-type", "ManifestFile")
    assert run.returncode != 0, run.log
    assert f's3://{BUCKET}/data/a.csv would both write "a.csv.out"' in run.log
    assert written(bkt, "out/") == {}


def test_resume_looks_for_the_outputs_under_their_names(tmp_path, bkt, s3_endpoint):
    put(bkt, {"batch_input/a.csv": csv_lines(2), "batch_input/b.csv": csv_lines(3)})
    args = (f"s3://{BUCKET}/batch_input", f"s3://{BUCKET}/batch_output")
    first = transform(tmp_path, s3_endpoint, *args)
    assert first.returncode == 0, first.log
    bkt.delete_object(Bucket=BUCKET, Key="batch_output/b.csv.out")
    again = transform(tmp_path, s3_endpoint, *args, "--resume")
    assert again.returncode == 0, again.log
    assert again.report["Resumed"] == ["a.csv"]
    assert [o["Input"] for o in again.report["Objects"]] == [f"s3://{BUCKET}/batch_input/b.csv"]
    assert written(bkt, "batch_output/") == {"a.csv.out": csv_lines(2),
                                             "b.csv.out": csv_lines(3)}


# The temporary files of a SIGKILLed job.

TEMP_NAME = re.compile(r"(.*/)?\.[^/]+\.tmp-[0-9a-f]{16}")


def temporaries(folder) -> list[str]:
    return sorted(n for n in outputs(folder) if TEMP_NAME.fullmatch(n))


def shard_of(relative: str, count: int) -> int:
    """FNV-1a 64 of the relative key, modulo the shard count (pipeline/transform/naming.h)."""
    value = 0xcbf29ce484222325
    for byte in relative.encode():
        value = ((value ^ byte) * 0x100000001b3) % (1 << 64)
    return value % count


def test_resume_removes_what_a_sigkilled_job_left_and_nothing_of_other_shards(tmp_path):
    # Shard 0 of 2 runs one long object, SingleRecord, a slow stage: its output's temporary
    # file exists for seconds. Another host's shard (1) is simulated by its temporary file.
    names = [f"sub/obj-{i}.csv" for i in range(40)]
    mine = next(n for n in names if shard_of(n, 2) == 0)
    theirs = next(n for n in names if shard_of(n, 2) == 1)
    data = csv_lines(40)
    (tmp_path / "in/sub").mkdir(parents=True)
    (tmp_path / "in" / mine).write_bytes(data)
    out = tmp_path / "out"
    live = out / "sub" / f".{theirs.split('/')[1]}.out.tmp-00000000deadbeef"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"another host is writing this")
    spec = pipeline(batch_stage("slow", delay_ms=100))
    args = ["--input", str(tmp_path / "in"), "--output", str(out), "--split-type", "Line",
            "--strategy", "SingleRecord", "--shard-count", "2", "--shard-index", "0", "--quiet"]

    command, _ = transform_command(tmp_path, spec, args)
    proc = subprocess.Popen(command, env=process_env(), stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(temporaries(out)) == 2, 60, "the job's temporary output file")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    left = temporaries(out)
    assert [n for n in left if n.startswith(f"sub/.{mine.split('/')[1]}.out.tmp-")], left
    assert not (out / f"{mine}.out").exists()

    command, report_path = transform_command(tmp_path, spec, [*args[:-1], "--resume"])
    resumed = subprocess.run(command, env=process_env(), capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "removed 1 temporary file(s) an interrupted run left (--resume)" in resumed.stderr
    assert temporaries(out) == [str(live.relative_to(out))]
    assert live.read_bytes() == b"another host is writing this"
    assert outputs(out)[f"{mine}.out"] == data
    assert json.loads(report_path.read_text())["TransformJobStatus"] == "Completed"
