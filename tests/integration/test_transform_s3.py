"""`tandem transform` on S3: the same jobs against a real S3 API server (moto_server) on
loopback, read and written through tandem's libcurl client, checked with boto3."""
import gzip
import json

from s3_support import s3, s3_endpoint, s3_env  # noqa: F401 (fixtures)
from transform_support import batch_stage, csv_lines, identity_pipeline, pipeline, run_transform


def read_all(client, bucket: str, prefix: str) -> dict[str, bytes]:
    result = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            result[obj["Key"][len(prefix):]] = body
    return result


def test_a_job_reads_and_writes_s3_like_a_folder(tmp_path, s3, s3_endpoint):
    client, bucket = s3
    big = csv_lines(40_000, width=5)  # several MiB: ranged reads and a multipart upload
    inputs = {"in/a.csv": big, "in/sub/b.csv.gz": gzip.compress(csv_lines(10)),
              "in/c.csv": b"1,2,3"}
    for key, data in inputs.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    run = run_transform(tmp_path, identity_pipeline(2), "--input", f"s3://{bucket}/in/",
                        "--output", f"s3://{bucket}/out", "--split-type", "Line",
                        "--max-payload-mb", "1", "--max-concurrent", "4", "--compression",
                        "None", env=s3_env(s3_endpoint))
    # b.csv.gz is read as it is stored (CompressionType None): bytes in, bytes out.
    assert run.returncode == 0, run.log
    got = read_all(client, bucket, "out/")
    assert got == {"a.csv.out": big, "sub/b.csv.gz.out": inputs["in/sub/b.csv.gz"],
                   "c.csv.out": b"1,2,3"}
    assert run.object_report("in/a.csv")["Input"] == f"s3://{bucket}/in/a.csv"


def test_a_failed_object_on_s3_leaves_no_output_and_no_pending_upload(tmp_path, s3,
                                                                       s3_endpoint):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="in/good.csv", Body=csv_lines(20))
    client.put_object(Bucket=bucket, Key="in/bad.csv", Body=csv_lines(10) + b"POISON\n")
    run = run_transform(tmp_path, pipeline(batch_stage("picky", fail_on="POISON")), "--input",
                        f"s3://{bucket}/in/", "--output", f"s3://{bucket}/out/",
                        "--split-type", "Line", "--strategy", "SingleRecord",
                        "--max-retries", "0", env=s3_env(s3_endpoint))
    assert run.returncode == 1, run.log
    got = read_all(client, bucket, "out/")
    assert got["good.csv.out"] == csv_lines(20)
    assert "bad.csv.out" not in got
    assert json.loads(got["bad.csv.out.errors"].decode().splitlines()[0])["data"] == "POISON\n"
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_manifest_on_s3_and_resume(tmp_path, s3, s3_endpoint):
    client, bucket = s3
    for i in range(4):
        client.put_object(Bucket=bucket, Key=f"data/d{i}.csv", Body=csv_lines(3, i))
    manifest = [{"prefix": f"s3://{bucket}/data/"}, "d1.csv", "d3.csv"]
    client.put_object(Bucket=bucket, Key="manifests/m.json", Body=json.dumps(manifest))
    args = ["--input", f"s3://{bucket}/manifests/m.json", "--s3-data-type", "ManifestFile",
            "--output", f"s3://{bucket}/out", "--split-type", "Line"]
    first = run_transform(tmp_path, identity_pipeline(1), *args, env=s3_env(s3_endpoint))
    assert first.returncode == 0, first.log
    assert read_all(client, bucket, "out/") == {"d1.csv.out": csv_lines(3, 1),
                                                "d3.csv.out": csv_lines(3, 3)}
    client.delete_object(Bucket=bucket, Key="out/d3.csv.out")
    again = run_transform(tmp_path, identity_pipeline(1), *args, "--resume",
                          env=s3_env(s3_endpoint))
    assert again.returncode == 0, again.log
    assert again.report["Resumed"] == ["d1.csv"]
    assert [o["Input"] for o in again.report["Objects"]] == [f"s3://{bucket}/data/d3.csv"]
    assert read_all(client, bucket, "out/")["d3.csv.out"] == csv_lines(3, 3)
