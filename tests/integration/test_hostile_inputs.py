"""Hostile batch-transform inputs on real `tandem transform` runs: a manifest entry that
percent-encodes its way out of the prefix, symbolic links in an input folder (out of it at the
top and one level down, a file link, links that stay inside), a manifest entry through a link,
and an output folder inside the input folder run twice (locally and on S3). Nothing outside the
input is ever read, and whatever was left out is named in the log, the summary and the report.
"""
import json
import os
from pathlib import Path

import pytest

from s3_support import s3, s3_endpoint, s3_env  # noqa: F401 (fixtures)
from transform_support import identity_pipeline, outputs, run_transform

SECRET = b"secret-outside-the-input\n"

def everything_under(folder: Path) -> dict[str, bytes]:
    """Every regular file under `folder`, links not followed."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def assert_secret_never_read(tmp_path: Path):
    for name, data in everything_under(tmp_path).items():
        if not name.startswith("outside"):
            assert SECRET not in data, f"{name} holds the secret: the job read outside its input"


def outside_folder(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    (outside / "deeper").mkdir(parents=True)
    (outside / "secret.csv").write_bytes(SECRET)
    (outside / "deeper/also.csv").write_bytes(SECRET)
    return outside


# --- manifests --------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["%2e%2e/outside/secret.csv", "%2E%2E/outside/secret.csv",
                                   "x/%2e%2e/%2e%2e/outside/secret.csv", "%2e/ok.csv",
                                   "%2fabs/secret.csv"])
def test_a_percent_encoded_manifest_entry_cannot_leave_a_file_prefix(tmp_path, entry):
    outside_folder(tmp_path)
    data = tmp_path / "data"
    (data / "x").mkdir(parents=True)
    (data / "ok.csv").write_text("1\n")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"prefix": f"file://{data}/"}, "ok.csv", entry]))
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(manifest),
                        "--s3-data-type", "ManifestFile", "--output", str(tmp_path / "out"))
    assert run.returncode == 1, run.log
    decoded = entry.replace("%2e", ".").replace("%2E", ".").replace("%2f", "/")
    assert run.report["TransformJobStatus"] == "Failed"
    assert run.report["FailureReason"] == (
        f'{manifest}: [2]: "{entry}" leads outside the prefix\'s folder file://{data}/ (it names '
        f'"{decoded}" there); an entry may not be absolute or have a "." or ".." segment')
    assert run.report["Objects"] == []
    assert not (tmp_path / "out").exists()
    assert_secret_never_read(tmp_path)


def test_a_percent_encoded_manifest_entry_inside_the_prefix_is_read(tmp_path):
    data = tmp_path / "data"
    (data / "sub dir").mkdir(parents=True)
    (data / "sub dir/a b.csv").write_text("1\n")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"prefix": f"file://{data}/"}, "sub%20dir/a%20b.csv"]))
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(manifest),
                        "--s3-data-type", "ManifestFile", "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {"sub%20dir/a%20b.csv.out": b"1\n"}


def test_a_manifest_entry_through_a_link_is_not_read(tmp_path):
    outside = outside_folder(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.csv").write_text("1\n")
    (data / "link").symlink_to(outside)
    (data / "file.csv").symlink_to(outside / "secret.csv")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"prefix": f"{data}/"}, "ok.csv", "link/secret.csv",
                                    "file.csv"]))
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(manifest),
                        "--s3-data-type", "ManifestFile", "--output", str(tmp_path / "out"))
    assert run.returncode == 1, run.log
    assert run.report["TransformJobStatus"] == "Failed"
    for name, link in (("link/secret.csv", "link"), ("file.csv", "file.csv")):
        failure = run.object_report(name)["Failure"]
        assert (failure["Error"], failure["Message"]) == (
            "StorageError", f"{data}/{link}: is a symbolic link; tandem never reads through a "
                            "link inside an input folder"), failure
    assert sorted(outputs(tmp_path / "out")) == [
        "file.csv.out.errors", "link/secret.csv.out.errors", "ok.csv.out"]
    assert_secret_never_read(tmp_path)


# --- links in an input folder -------------------------------------------------------------------


def link_reason(target) -> str:
    return f"a symbolic link (to {target}); tandem does not follow links in an input folder"


def test_a_folder_link_at_the_top_of_the_input_is_not_followed(tmp_path):
    outside = outside_folder(tmp_path)
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_text("1\n")
    (tmp_path / "in/etclink").symlink_to(outside)
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {"a.csv.out": b"1\n"}
    assert f"{tmp_path}/in/etclink: not read: {link_reason(outside)}" in run.log
    assert_secret_never_read(tmp_path)


def test_links_one_level_down_are_not_followed_and_are_named(tmp_path):
    outside = outside_folder(tmp_path)
    (tmp_path / "in/sub").mkdir(parents=True)
    (tmp_path / "in/sub/b.csv").write_text("2\n")
    (tmp_path / "in/sub/deeplink").symlink_to(outside)
    (tmp_path / "in/sub/secret.csv").symlink_to(outside / "secret.csv")
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {"sub/b.csv.out": b"2\n"}
    assert f"{tmp_path}/in/sub/deeplink: not read: {link_reason(outside)}" in run.log
    assert (f"{tmp_path}/in/sub/secret.csv: not read: {link_reason(outside / 'secret.csv')}"
            in run.log)
    assert_secret_never_read(tmp_path)


def test_links_that_stay_inside_the_input_are_not_followed_either(tmp_path):
    (tmp_path / "in/sub").mkdir(parents=True)
    (tmp_path / "in/a.csv").write_text("1\n")
    (tmp_path / "in/sub/b.csv").write_text("2\n")
    (tmp_path / "in/alias").symlink_to("sub")  # would read sub/b.csv a second time
    (tmp_path / "in/same.csv").symlink_to("a.csv")
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {"a.csv.out": b"1\n", "sub/b.csv.out": b"2\n"}
    assert f"{tmp_path}/in/alias: not read: {link_reason('sub')}" in run.log
    assert f"{tmp_path}/in/same.csv: not read: {link_reason('a.csv')}" in run.log


def test_the_summary_and_the_report_name_each_link_left_out(tmp_path):
    outside = outside_folder(tmp_path)
    (tmp_path / "in/sub").mkdir(parents=True)
    (tmp_path / "in/a.csv").write_text("1\n")
    (tmp_path / "in/etclink").symlink_to(outside)
    (tmp_path / "in/sub/deeplink").symlink_to(outside)
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.log
    assert run.report["Skipped"] == [
        {"Input": f"{tmp_path}/in/etclink", "Reason": link_reason(outside)},
        {"Input": f"{tmp_path}/in/sub/deeplink", "Reason": link_reason(outside)}]
    assert (f"  skipped 2 input entries, not read:\n"
            f"    {tmp_path}/in/etclink: {link_reason(outside)}\n"
            f"    {tmp_path}/in/sub/deeplink: {link_reason(outside)}") in run.log


# --- an output folder inside the input folder ----------------------------------------------------


def test_an_output_folder_inside_the_input_is_never_read_back(tmp_path):
    (tmp_path / "in/sub").mkdir(parents=True)
    (tmp_path / "in/a.csv").write_text("1\n")
    (tmp_path / "in/sub/b.csv").write_text("2\n")
    expected = {"a.csv.out": b"1\n", "sub/b.csv.out": b"2\n"}
    for attempt in range(2):
        run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                            "--output", str(tmp_path / "in/out"))
        assert run.returncode == 0, run.log
        assert outputs(tmp_path / "in/out") == expected, f"run {attempt + 1}"
        assert [o["Input"] for o in run.report["Objects"]] == [
            f"{tmp_path}/in/a.csv", f"{tmp_path}/in/sub/b.csv"]
    # The second run found the first one's outputs and left them out, saying so.
    assert (f"{tmp_path}/in: 2 object(s) under the output folder {tmp_path}/in/out/ not read: it "
            "is never read as input") in run.log


def test_an_output_folder_that_is_the_input_folder_reads_nothing_back(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_text("1\n")
    first = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                          "--output", str(tmp_path / "in"))
    assert first.returncode == 1, first.log
    assert first.report["FailureReason"] == (
        f"{tmp_path}/in: no objects under this prefix; 1 object(s) under the output folder "
        f"{tmp_path}/in/, which is never read as input")
    assert outputs(tmp_path / "in") == {"a.csv": b"1\n"}


def test_the_summary_and_the_report_count_the_output_folder_left_out(tmp_path):
    (tmp_path / "in/out").mkdir(parents=True)
    (tmp_path / "in/a.csv").write_text("1\n")
    (tmp_path / "in/out/old.csv.out").write_text("old\n")
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "in/out"))
    assert run.returncode == 0, run.log
    assert run.report["OutputFolderObjectsNotRead"] == 1
    assert (f"  skipped 1 object(s) under the output folder {tmp_path}/in/out/, which is never "
            "read as input") in run.log


def test_an_s3_output_prefix_inside_the_input_prefix_is_never_read_back(tmp_path, s3,
                                                                         s3_endpoint):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="in/a.csv", Body=b"1\n")
    client.put_object(Bucket=bucket, Key="in/sub/b.csv", Body=b"2\n")
    for _ in range(2):
        run = run_transform(tmp_path, identity_pipeline(1), "--input", f"s3://{bucket}/in/",
                            "--output", f"s3://{bucket}/in/out", env=s3_env(s3_endpoint))
        assert run.returncode == 0, run.log
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
        assert keys == ["in/a.csv", "in/out/a.csv.out", "in/out/sub/b.csv.out", "in/sub/b.csv"]
        assert [o["Input"] for o in run.report["Objects"]] == [
            f"s3://{bucket}/in/a.csv", f"s3://{bucket}/in/sub/b.csv"]


def test_a_file_named_on_the_command_line_may_itself_be_a_link(tmp_path):
    # A Kubernetes ConfigMap or Secret mount: the named file is a link into a hidden folder.
    mount = tmp_path / "cfg"
    (mount / "..data").mkdir(parents=True)
    (mount / "..data/a.csv").write_text("1\n2\n")
    (mount / "a.csv").symlink_to("..data/a.csv")
    data = tmp_path / "data"
    data.mkdir()
    (data / "b.csv").write_text("3\n")
    (mount / "..data/manifest.json").write_text(json.dumps([{"prefix": f"{data}/"}, "b.csv"]))
    (mount / "manifest.json").symlink_to("..data/manifest.json")
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(mount / "a.csv"),
                        "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {"a.csv.out": b"1\n2\n"}
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(mount / "manifest.json"),
                        "--s3-data-type", "ManifestFile", "--output", str(tmp_path / "out2"))
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out2") == {"b.csv.out": b"3\n"}
