"""The claims of docs/security.md, each checked on real tandem and stage processes: where
sockets listen (read from /proc/net/tcp), how shared memory is shared, that argv never meets a
shell, that secret values stay out of logs and reports at debug level, that hostile input keys,
manifest entries and links never make a job write outside its output folder, the size limits,
the modes of the files tandem writes, and that S3 credentials are never printed."""
from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from capture_support import capture_files, run_replay
from harness import (REPO_ROOT, assert_error, flask_stage, identity, process_env,
                     tandem_exe)
from s3_support import s3, s3_endpoint, s3_env  # noqa: F401 (fixtures)
from transform_support import identity_pipeline, outputs, pipeline, run_transform

# --- what /proc says about processes and sockets -------------------------------------------


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it (tandem, its shims, the stages and their workers)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children_of(current)
    return tree


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if m:
            inodes.add(int(m.group(1)))
    return inodes


def decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # IPv6: four 32-bit words, each in host (little-endian) order.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket `pid` holds in the LISTEN state."""
    inodes = socket_inodes(pid)
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or int(fields[9]) not in inodes:  # 0A: LISTEN
                continue
            address, port = fields[1].split(":")
            found.add((decode_address(address), int(port, 16)))
    return found


def tree_listening(pid: int) -> set[tuple[str, int]]:
    return set().union(*(listening(p) for p in process_tree(pid)))


# --- stages listen on 127.0.0.1 only; the front binds where the spec says -------------------


def test_stages_listen_on_loopback_only(tandem_factory):
    tandem = tandem_factory({"name": "bind", "stages": [
        identity("http-stage"), identity("shm-stage", spec={"transport": "shm"}),
        flask_stage("flask-stage"),
    ]})
    ports = tandem.stage_ports()
    for name, pid in tandem.stage_pids().items():
        sockets = tree_listening(pid)
        # Exactly the assigned port, on loopback, by the stage (and its workers) alone.
        assert sockets == {("127.0.0.1", ports[name])}, (name, sockets)
    assert "listens on" not in tandem.log()
    # tandem itself listens on the front's address only: no other port, no wildcard.
    assert listening(tandem.proc.pid) == {("127.0.0.1", tandem.port)}
    res = tandem.invoke(b"1,2")
    assert (res.status, res.body) == (200, b"1,2,flask"), res


def test_a_stage_listening_beyond_loopback_is_warned_about(tandem_factory):
    tandem = tandem_factory({"name": "exposed", "stages": [
        identity("open", spec={"env": {"TANDEM_STAGE_HOST": "0.0.0.0"}}), identity("closed")]})
    port = tandem.stage_ports()["open"]
    assert tree_listening(tandem.stage_pids()["open"]) == {("0.0.0.0", port)}
    tandem.wait_for_log(
        rf"WARN  stage 'open' \(container-1\) listens on 0\.0\.0\.0:{port}, reachable from other "
        r"hosts; tandem calls stages on 127\.0\.0\.1 only: bind the stage to 127\.0\.0\.1 \(see "
        r"docs/security\.md\)")
    assert "stage 'closed' (container-2) listens on" not in tandem.log()


@pytest.mark.parametrize("spec_host, args, expected", [
    ("127.0.0.1", ("--port", "0"), "127.0.0.1"),
    ("0.0.0.0", ("--port", "0"), "0.0.0.0"),
    ("0.0.0.0", ("--port", "0", "--host", "127.0.0.1"), "127.0.0.1"),
])
def test_the_front_binds_the_spec_host(tandem_factory, spec_host, args, expected):
    tandem = tandem_factory({"name": "front", "server": {"host": spec_host},
                             "stages": [identity()]}, args=args)
    assert listening(tandem.proc.pid) == {(expected, tandem.port)}
    assert tandem.invoke(b"x").status == 200


# --- shared memory only by inherited memfd --------------------------------------------------


def shared_mappings(pid: int) -> list[str]:
    """The file column of every shared mapping of `pid`, anonymous ones excluded."""
    found = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if fields[1][3] == "s" and len(fields) == 6 and int(fields[4]) != 0:
            found.append(fields[5])
    return found


def test_shared_memory_is_an_inherited_memfd_and_nothing_else(tandem_factory):
    before = set(os.listdir("/dev/shm"))
    tandem = tandem_factory({"name": "shm-only", "stages": [
        identity("a", spec={"transport": "shm"})]})
    assert tandem.invoke(b"ring").body == b"ring"
    stage = tandem.stage_pids()["a"]
    environ = dict(entry.split("=", 1) for entry in
                   Path(f"/proc/{stage}/environ").read_text().split("\0") if "=" in entry)
    segment = Path(f"/proc/{stage}/fd/{environ['TANDEM_SHM_FD']}")
    assert os.readlink(segment).startswith("/memfd:tandem-shm"), os.readlink(segment)
    assert stat.S_IMODE(os.stat(segment).st_mode) == 0o600
    # Every shared file mapping of tandem and of the stage is that kind of segment: no
    # /dev/shm object, no file on disk.
    for pid in (tandem.proc.pid, stage):
        mappings = shared_mappings(pid)
        assert mappings and all(m.startswith("/memfd:tandem-shm") for m in mappings), mappings
    # No descriptor of the tree points into /dev/shm, and nothing of tandem's was added there.
    links = []
    for pid in process_tree(tandem.proc.pid):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                links.append(os.readlink(fd))
            except FileNotFoundError:
                continue
    assert any(link.startswith("/memfd:tandem-shm") for link in links)
    assert [link for link in links if link.startswith("/dev/shm")] == []
    assert [n for n in set(os.listdir("/dev/shm")) - before if "tandem" in n] == []


# --- no shell anywhere ----------------------------------------------------------------------

SHELL_CALLS = re.compile(r"\b(system|popen|wordexp|execl|execlp|shm_open)\s*\(|\"/bin/(ba)?sh\"|"
                         r"\"sh\"\s*,\s*\"-c\"")


def test_no_source_file_calls_a_shell():
    sources = [p for folder in ("pipeline", "stages", "proto")
               for p in (REPO_ROOT / folder).rglob("*") if p.suffix in (".cpp", ".h")]
    assert len(sources) > 50
    offenders = [f"{p.relative_to(REPO_ROOT)}:{n}: {line.strip()}"
                 for p in sources
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if SHELL_CALLS.search(line)]
    assert offenders == []


def test_a_stage_command_is_argv_never_a_shell_line(tmp_path):
    """Shell syntax in a command reaches the program as literal arguments."""
    work = tmp_path / "work"
    work.mkdir()
    arguments = ["a; touch injected", "$(touch subst)", "`touch tick`", "b && touch and"]
    spec = {"name": "argv", "stages": [{"command": ["/usr/bin/touch", *arguments],
                                        "working_dir": str(work)}]}
    spec_path = tmp_path / "pipeline.yaml"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run([str(tandem_exe()), "serve", str(spec_path), "--port", "0",
                           "--host", "127.0.0.1"], env=process_env(), capture_output=True,
                          text=True, timeout=60)
    # touch exits at once, so the stage never serves; what it created is the whole story.
    assert proc.returncode != 0
    assert "stage 'container-1' (container-1) exited with status 0 during start-up" in proc.stderr
    assert sorted(os.listdir(work)) == sorted(arguments)


# --- stage environments never logged whole --------------------------------------------------

SECRET = "s3cr3t-Value-9f7c2a"


def test_secret_env_values_never_reach_the_log_even_at_debug_level(tandem_factory):
    tandem = tandem_factory(
        {"name": "secrets", "stages": [identity("a", spec={
            "env": {"API_KEY": "${API_KEY}", "MODE": "visible-value",
                    "AWS_SECRET_ACCESS_KEY": "${API_KEY}-aws"},
            "secret_env": ["API_KEY"]})]},
        env={"API_KEY": SECRET, "TANDEM_LOG_LEVEL": "debug"})
    assert tandem.invoke(b"x").status == 200
    stage = tandem.stage_pids()["a"]
    # The stage does get the value ...
    assert f"API_KEY={SECRET}".encode() in Path(f"/proc/{stage}/environ").read_bytes()
    tandem.terminate()
    log = tandem.log()
    # ... the debug line names every variable, shows the plain one and masks the secrets.
    line = re.search(r"DEBUG stage 'a' \(container-1\) command: \[tandem-identity, serve\] "
                     r"\(/\S+/tandem-identity\) in \S+; environment added: (.*)", log)
    assert line, log
    assert "API_KEY=<secret>" in line.group(1)
    assert "AWS_SECRET_ACCESS_KEY=<secret>" in line.group(1)
    assert "MODE=visible-value" in line.group(1)
    assert SECRET not in log


def test_secret_env_values_stay_out_of_a_transform_report(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_text("1\n")
    spec = pipeline(identity("a", spec={"secret_env": ["API_KEY"]}))
    run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                        str(tmp_path / "out"), "--env", f"API_KEY={SECRET}", "--env",
                        "MODE=visible-value", "--log-level", "debug")
    assert run.returncode == 0, run.log
    assert run.report["Environment"] == {"API_KEY": "<secret>", "MODE": "visible-value"}
    assert "API_KEY=<secret>" in run.log and "MODE=visible-value" in run.log
    assert SECRET not in run.log
    assert SECRET not in json.dumps(run.report)


# --- inputs and manifests never write outside the output folder -----------------------------

def everything_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("entry", ["../escape.csv", "x/../../escape.csv", "/abs/escape.csv",
                                   "./escape.csv"])
def test_a_manifest_entry_cannot_name_an_output_outside(tmp_path, entry):
    data = tmp_path / "data"
    (data / "x").mkdir(parents=True)
    (data / "x/ok.csv").write_text("1\n")
    (tmp_path / "escape.csv").write_text("2\n")
    (tmp_path / "abs").mkdir()
    (tmp_path / "abs/escape.csv").write_text("3\n")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"prefix": f"{data}/"}, "x/ok.csv", entry]))
    before = everything_under(tmp_path)
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(manifest),
                        "--s3-data-type", "ManifestFile", "--output", str(tmp_path / "out"))
    assert run.returncode == 1, run.log
    assert run.report["FailureReason"] == (
        f'{manifest}: [2]: "{entry}" leads outside the prefix\'s folder {data}/; an entry may '
        'not be absolute or have a "." or ".." segment')
    # Nothing was written anywhere: not outside, not even the good entry's output.
    after = [p for p in everything_under(tmp_path) if not p.startswith(("report-", "pipeline-"))]
    assert after == [p for p in before if not p.startswith(("report-", "pipeline-"))]


def test_a_link_inside_the_output_folder_is_never_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "in/sub").mkdir(parents=True)
    (tmp_path / "in/sub/a.csv").write_text("1\n")
    (tmp_path / "in/b.csv").write_text("2\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out/sub").symlink_to(outside)
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"))
    assert run.returncode == 1, run.log
    failure = run.object_report("in/sub/a.csv")["Failure"]
    assert failure["Message"] == (f"{tmp_path}/out/sub: is a symbolic link; tandem never writes "
                                  "through a link inside an output folder"), failure
    assert run.object_report("in/b.csv")["Status"] == "Completed"
    assert os.listdir(outside) == []
    assert outputs(tmp_path / "out") == {"b.csv.out": b"2\n"}


def test_s3_keys_with_dot_segments_cannot_leave_a_local_output_folder(tmp_path, s3,
                                                                      s3_endpoint):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="in/ok.csv", Body=b"1\n")
    client.put_object(Bucket=bucket, Key="in/../../escape.csv", Body=b"2\n")
    (tmp_path / "out").mkdir()
    run = run_transform(tmp_path, identity_pipeline(1), "--input", f"s3://{bucket}/in/",
                        "--output", str(tmp_path / "out"), env=s3_env(s3_endpoint))
    assert run.returncode == 1, run.log
    assert run.report["FailureReason"] == (
        f's3://{bucket}/in/../../escape.csv: cannot name the output of "../../escape.csv": an '
        'empty or absolute key, or a "." or ".." segment, could write outside the output '
        "location")
    assert everything_under(tmp_path / "out") == []
    assert not (tmp_path.parent / "escape.csv.out").exists()


# --- size limits ----------------------------------------------------------------------------


# A stage whose answers carry a 70 KiB header: over the 64 KiB tandem reads from a stage.
HUGE_HEADER_STAGE = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200); self.send_header("X-Big", "a" * 70000)
        self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), H).serve_forever()
"""


def test_a_stage_answer_with_headers_over_64_kib_is_a_model_error(tandem_factory):
    tandem = tandem_factory({"name": "big-headers", "stages": [
        {"name": "chatty", "command": [sys.executable, "-c", HUGE_HEADER_STAGE, "serve"]}]})
    res = tandem.invoke(b"x")
    assert_error(res, 424, "ModelError",
                 "Received server error (0) from container-1 (stage 'chatty') with message "
                 "\"malformed HTTP response: header limit exceeded\". See the log of endpoint "
                 "'big-headers', lines prefixed 'chatty |' for more information.",
                 Stage="chatty", OriginalMessage="malformed HTTP response: header limit exceeded")


@pytest.mark.parametrize("job", ["big.json", "/dev/zero"])
def test_a_job_file_over_1_mib_is_refused(tmp_path, job):
    if job == "big.json":
        job = str(tmp_path / job)
        Path(job).write_text('{"TransformJobName": "' + "x" * (1024 * 1024) + '"}')
    spec = tmp_path / "pipeline.yaml"
    spec.write_text("name: a\nstages:\n  - command: [tandem-identity, serve]\n")
    proc = subprocess.run([str(tandem_exe()), "transform", str(spec), "--job", job],
                          capture_output=True, text=True, env=process_env(), timeout=30)
    assert (proc.returncode, proc.stderr) == (2, f"{job}: the job file is larger than 1 MiB\n")


# --- file modes -----------------------------------------------------------------------------


def modes_under(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): stat.S_IMODE(p.lstat().st_mode)
            for p in sorted(folder.rglob("*"))}


def test_transform_outputs_are_0640_in_0750_folders_whatever_the_umask(tmp_path):
    (tmp_path / "in/sub").mkdir(parents=True)
    (tmp_path / "in/sub/a.csv").write_text("1\n")
    old = os.umask(0)  # the most permissive umask: modes must not come from it
    try:
        run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                            "--output", str(tmp_path / "out/job"), "--metrics-file",
                            str(tmp_path / "out/metrics.prom"))
    finally:
        os.umask(old)
    assert run.returncode == 0, run.log
    assert modes_under(tmp_path / "out") == {"job": 0o750, "job/sub": 0o750,
                                             "job/sub/a.csv.out": 0o640, "metrics.prom": 0o640}
    reports = list(tmp_path.glob("report-*.json"))
    assert len(reports) == 1 and stat.S_IMODE(reports[0].stat().st_mode) == 0o640


def test_a_link_at_a_report_path_is_not_written_through(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_text("1\n")
    victim = tmp_path / "victim.txt"
    victim.write_text("kept")
    (tmp_path / "report.json").symlink_to(victim)
    spec = tmp_path / "pipeline.yaml"
    spec.write_text("name: a\nstages:\n  - command: [tandem-identity, serve]\n")
    proc = subprocess.run([str(tandem_exe()), "transform", str(spec), "--input",
                           str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--report",
                           str(tmp_path / "report.json")],
                          capture_output=True, text=True, env=process_env(), timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert (f"could not write the report to {tmp_path}/report.json: Too many levels of "
            "symbolic links") in proc.stderr
    assert victim.read_text() == "kept"


def test_capture_files_are_0640_in_0750_folders_whatever_the_umask(tandem_factory, tmp_path):
    old = os.umask(0)
    try:
        tandem = tandem_factory({"name": "cap", "stages": [identity()],
                                 "capture": {"destination": str(tmp_path / "capture")}})
    finally:
        os.umask(old)
    assert tandem.invoke(b"1,2").status == 200
    assert tandem.terminate() == 0
    modes = modes_under(tmp_path / "capture")
    files = [k for k in modes if k.endswith(".jsonl")]
    assert len(files) == 1 and len(capture_files(tmp_path / "capture")) == 1, modes
    assert {k: v for k, v in modes.items() if k not in files} == {
        k: 0o750 for k in modes if k not in files}
    assert modes[files[0]] == 0o640
    # Replay's report and traces hold captured bodies: 0640 as well.
    old = os.umask(0)
    try:
        run = run_replay(tmp_path, {"name": "cap", "stages": [identity()]}, "--capture",
                         str(tmp_path / "capture"), "--trace", str(tmp_path / "traces"))
    finally:
        os.umask(old)
    assert run.returncode == 0, run.log
    traces = list((tmp_path / "traces").iterdir())
    assert len(traces) == 1 and stat.S_IMODE(traces[0].stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "traces").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "replay-report.json").stat().st_mode) == 0o640


# --- S3 credentials never printed -----------------------------------------------------------

S3_SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY"
S3_TOKEN = "FwoGZXIvYXdzEXAMPLE-session-token-0123456789"


def secret_s3_env(endpoint: str) -> dict:
    return {**s3_env(endpoint), "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_SESSION_TOKEN": S3_TOKEN, "TANDEM_LOG_LEVEL": "debug"}


def assert_no_credentials(*texts: str) -> None:
    for text in texts:
        assert S3_SECRET not in text and S3_TOKEN not in text


def test_s3_credentials_are_never_printed_by_a_transform_job(tmp_path, s3, s3_endpoint):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="in/a.csv", Body=b"1\n")
    env = secret_s3_env(s3_endpoint)
    spec = pipeline(identity("a", spec={"env": {"AWS_SECRET_ACCESS_KEY": "${AWS_SECRET_ACCESS_KEY}",
                                                "AWS_SESSION_TOKEN": "${AWS_SESSION_TOKEN}"}}))
    good = run_transform(tmp_path, spec, "--input", f"s3://{bucket}/in/", "--output",
                         f"s3://{bucket}/out/", env=env)
    assert good.returncode == 0, good.log
    assert "AWS_SECRET_ACCESS_KEY=<secret>" in good.log
    # Debug lines say where S3 is and where the credentials came from, not what they are.
    assert (f"DEBUG input s3://{bucket}/in/: S3 bucket {bucket} at {s3_endpoint}, region "
            "us-east-1, credentials from environment (AWS_ACCESS_KEY_ID)") in good.log
    # Failures: a missing bucket, a missing object in a manifest, an unreachable endpoint.
    missing_bucket = run_transform(tmp_path, spec, "--input", f"s3://{bucket}-none/in/",
                                   "--output", f"s3://{bucket}/out2/", env=env)
    assert missing_bucket.returncode != 0 and "NoSuchBucket" in missing_bucket.log
    client.put_object(Bucket=bucket, Key="m.json",
                      Body=json.dumps([{"prefix": f"s3://{bucket}/in/"}, "gone.csv"]).encode())
    missing_object = run_transform(tmp_path, spec, "--input", f"s3://{bucket}/m.json",
                                   "--s3-data-type", "ManifestFile", "--output",
                                   f"s3://{bucket}/out3/", env=env)
    assert missing_object.returncode != 0 and "NoSuchKey" in missing_object.log
    unreachable = run_transform(tmp_path, spec, "--input", f"s3://{bucket}/in/", "--output",
                                str(tmp_path / "out4"),
                                env={**env, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"})
    assert unreachable.returncode != 0 and "127.0.0.1 port 9" in unreachable.log
    for run in (good, missing_bucket, missing_object, unreachable):
        assert_no_credentials(run.log, json.dumps(run.report))
    for key, body in outputs_in(client, bucket).items():
        assert_no_credentials(body.decode(errors="replace"))


def outputs_in(client, bucket: str) -> dict[str, bytes]:
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_s3_credentials_are_never_printed_by_capture(tandem_factory, s3, s3_endpoint):
    client, bucket = s3
    tandem = tandem_factory({"name": "cap-s3", "stages": [identity()],
                             "capture": {"destination": f"s3://{bucket}/capture"}},
                            env=secret_s3_env(s3_endpoint))
    assert tandem.invoke(b"1,2").status == 200
    assert tandem.terminate() == 0
    log = tandem.log()
    assert "capture: 1 record(s) written in 1 file(s)" in log, log
    assert (f"DEBUG capture destination s3://{bucket}/capture: S3 bucket {bucket} at "
            f"{s3_endpoint}, region us-east-1, credentials from environment "
            "(AWS_ACCESS_KEY_ID)") in log, log
    assert_no_credentials(log)
    # A capture destination whose bucket does not exist: the error is logged, no credentials.
    failing = tandem_factory({"name": "cap-s3-bad", "stages": [identity()],
                              "capture": {"destination": f"s3://{bucket}-none/capture"}},
                             env=secret_s3_env(s3_endpoint))
    assert failing.invoke(b"1,2").status == 200
    failing.terminate()
    assert "NoSuchBucket" in failing.log(), failing.log()
    assert_no_credentials(failing.log())
