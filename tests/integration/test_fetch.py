"""`tandem fetch` (docs/storage.md): one object to a file, a prefix to a folder, from a local
folder and from S3 (moto), and keys that would land outside the destination refused."""
import subprocess

from harness import process_env, tandem_exe
from s3_support import s3, s3_endpoint, s3_env  # noqa: F401 (fixtures)


def fetch(source, destination, env=None):
    return subprocess.run([str(tandem_exe()), "fetch", str(source), str(destination)],
                          capture_output=True, text=True, env=process_env(**(env or {})),
                          check=False, timeout=60)


def test_a_local_folder_and_a_local_file(tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.py").write_text("a")
    (tmp_path / "src" / "sub" / "b.py").write_text("b")
    result = fetch(tmp_path / "src", tmp_path / "out")
    assert result.returncode == 0, result
    assert sorted(p.relative_to(tmp_path / "out").as_posix()
                  for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["a.py", "sub/b.py"]
    result = fetch(tmp_path / "src" / "a.py", tmp_path / "one.py")
    assert result.returncode == 0, result
    assert (tmp_path / "one.py").read_text() == "a"


def test_s3_object_and_prefix(tmp_path, s3, s3_endpoint):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="code/inference.py", Body=b"x = 1\n")
    client.put_object(Bucket=bucket, Key="code/lib/util.py", Body=b"y = 2\n")
    client.put_object(Bucket=bucket, Key="codex/other.py", Body=b"no\n")
    env = s3_env(s3_endpoint)
    result = fetch(f"s3://{bucket}/code", tmp_path / "code", env)
    assert result.returncode == 0, result
    assert sorted(p.relative_to(tmp_path / "code").as_posix()
                  for p in (tmp_path / "code").rglob("*") if p.is_file()) == [
        "inference.py", "lib/util.py"]
    result = fetch(f"s3://{bucket}/code/inference.py", tmp_path / "inference.py", env)
    assert result.returncode == 0, result
    assert (tmp_path / "inference.py").read_bytes() == b"x = 1\n"
    (tmp_path / "folder").mkdir()
    result = fetch(f"s3://{bucket}/code/lib/util.py", tmp_path / "folder", env)
    assert result.returncode == 0, result
    assert (tmp_path / "folder" / "util.py").read_bytes() == b"y = 2\n"


def test_s3_key_leaving_the_destination_is_refused(tmp_path, s3, s3_endpoint):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="code/../../escaped.py", Body=b"bad\n")
    result = fetch(f"s3://{bucket}/code/", tmp_path / "dest", s3_env(s3_endpoint))
    assert result.returncode == 1, result
    assert "would be written outside" in result.stderr, result.stderr
    assert not list(tmp_path.rglob("escaped.py"))


def test_nothing_there(tmp_path, s3, s3_endpoint):
    _client, bucket = s3
    result = fetch(f"s3://{bucket}/none/sourcedir.tar.gz", tmp_path / "x", s3_env(s3_endpoint))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"tandem fetch: s3://{bucket}/none/sourcedir.tar.gz: "
                                     "no object there")
