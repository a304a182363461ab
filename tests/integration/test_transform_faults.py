"""`tandem transform` under faults: a record over the payload limit, a stage failing one
object, transient failures retried, retries exhausted, a timeout, a stage crashing mid-job,
the job SIGKILLed then resumed, SIGTERM, and shards whose union is the whole job."""
import json
import re
import signal
import subprocess
import threading
import time

from harness import identity, pid_alive, process_env, wait_until
from transform_support import (batch_stage, csv_lines, identity_pipeline, outputs, pipeline,
                               run_transform, transform_command)

MiB = 1024 * 1024


def write(root, files):
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_record_over_the_limit_fails_its_object_only(tmp_path):
    huge_line = b"9" * (MiB + 100) + b"\n"
    write(tmp_path / "in", {"big.csv": b"1,2\n3,4\n5,6\n" + huge_line + b"7,8\n",
                            "ok.csv": csv_lines(100)})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), "--split-type", "Line",
                        "--max-payload-mb", "1")
    assert run.returncode == 1, run.log
    assert (tmp_path / "out/ok.csv.out").read_bytes() == csv_lines(100)
    assert not (tmp_path / "out/big.csv.out").exists()
    failure = run.object_report("big.csv")["Failure"]
    assert re.search(r"record 3 \(byte offset 12\).*larger than the limit of 1048576 bytes",
                     failure["Message"]), failure
    assert run.report["TransformJobStatus"] == "Failed"
    assert "big.csv" in run.report["FailureReason"] or "1 of 2" in run.report["FailureReason"]
    assert (tmp_path / "out/big.csv.out.errors").exists()


def test_a_stage_failing_one_object_leaves_the_others_and_records_what_failed(tmp_path):
    write(tmp_path / "in", {"a.csv": csv_lines(30),
                            "b.csv": csv_lines(20) + b"POISON,1,2\n" + csv_lines(20, 20),
                            "c.csv": csv_lines(30, 5)})
    spec = pipeline(identity("first"), batch_stage("picky", fail_on="POISON"), identity("last"))
    run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                        str(tmp_path / "out"), "--split-type", "Line", "--strategy",
                        "SingleRecord", "--assemble-with", "Line", "--max-retries", "0",
                        "--max-concurrent", "4")
    assert run.returncode == 1, run.log
    files = outputs(tmp_path / "out")
    assert files["a.csv.out"] == csv_lines(30)
    assert files["c.csv.out"] == csv_lines(30, 5)
    assert "b.csv.out" not in files
    errors = [json.loads(line) for line in files["b.csv.out.errors"].decode().splitlines()]
    assert errors[0]["first_record"] == 20 and errors[0]["record_count"] == 1
    assert errors[0]["stage"] == "picky" and errors[0]["container"] == "container-2"
    assert errors[0]["status"] == 500 and errors[0]["error"] == "ModelError"
    assert "cannot score a poisoned record" in errors[0]["message"]
    assert errors[0]["data"] == "POISON,1,2\n"
    assert re.search(r"FAILED .*b\.csv: record 20 \(byte offset \d+\): stage 'picky' "
                     r"\(container-2\) answered 500", run.log), run.log
    report = run.object_report("b.csv")
    assert report["Status"] == "Failed" and report["Failure"]["Stage"] == "picky"
    assert [o["Status"] for o in run.report["Objects"]] == ["Completed", "Failed", "Completed"]


def test_transient_failures_are_retried_with_backoff(tmp_path):
    write(tmp_path / "in", {"a.csv": csv_lines(50)})
    run = run_transform(tmp_path, pipeline(batch_stage("flaky", transient=2)), "--input",
                        str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--split-type", "Line", "--max-retries", "3")
    assert run.returncode == 0, run.log
    assert (tmp_path / "out/a.csv.out").read_bytes() == csv_lines(50)
    assert len(re.findall(r"attempt \d of 4 failed .*503.*retrying in", run.log)) == 2, run.log


def test_retries_exhausted_fail_the_object_with_the_attempt_count(tmp_path):
    write(tmp_path / "in", {"a.csv": csv_lines(5)})
    run = run_transform(tmp_path, pipeline(batch_stage("down", transient=100)), "--input",
                        str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--split-type", "Line", "--max-retries", "1")
    assert run.returncode == 1, run.log
    failure = run.object_report("a.csv")["Failure"]
    assert failure["Attempts"] == 2 and failure["Status"] == 503, failure
    assert not (tmp_path / "out/a.csv.out").exists()


def test_a_stage_over_the_timeout_fails_the_request_naming_the_timeout(tmp_path):
    write(tmp_path / "in", {"a.csv": b"1\n"})
    run = run_transform(tmp_path, pipeline(batch_stage("slow", delay_ms=4000)), "--input",
                        str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                        "--split-type", "Line", "--timeout-s", "1", "--max-retries", "0")
    assert run.returncode == 1, run.log
    failure = run.object_report("a.csv")["Failure"]
    assert failure["Stage"] == "slow" and "timeout" in failure["Message"], failure


def test_a_stage_crashing_mid_job_is_restarted_and_its_batch_retried(tmp_path):
    write(tmp_path / "in", {f"f{i}.csv": csv_lines(10, i) for i in range(8)})
    spec = {"version": 1, "name": "crashy",
            "stages": [{"name": "crashy", "command": ["tandem-identity", "serve"],
                        "env": {"TANDEM_IDENTITY_EXIT_AFTER": "3"}}]}
    run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                        str(tmp_path / "out"), "--split-type", "Line", "--max-retries", "3")
    assert run.returncode == 0, run.log
    assert outputs(tmp_path / "out") == {f"f{i}.csv.out": csv_lines(10, i) for i in range(8)}
    assert "restart" in run.log, run.log


def slow_job(tmp_path, out, *extra):
    spec = pipeline(batch_stage("slow", delay_ms=250))
    return transform_command(tmp_path, spec, ["--input", str(tmp_path / "in"), "--output",
                                              str(out), "--split-type", "Line", *extra])


def test_sigkill_then_resume_gives_the_uninterrupted_output_and_no_partial_file(tmp_path):
    files = {f"part-{i:02}.csv": csv_lines(3, i * 3) for i in range(12)}
    write(tmp_path / "in", files)
    expected = {f"{k}.out": v for k, v in files.items()}
    out = tmp_path / "out"
    command, _ = slow_job(tmp_path, out, "--quiet")
    log_path = tmp_path / "killed.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, env=process_env(), stderr=log)
    partial: list[str] = []
    stop = threading.Event()

    def watch():  # a reader polling the output folder the whole time
        while not stop.is_set():
            for name, data in outputs(out).items() if out.exists() else []:
                if name.endswith(".out") and not name.startswith(".") and data != expected[name]:
                    partial.append(name)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        wait_until(lambda: out.exists() and len([p for p in out.glob("*.out")]) >= 3, 60,
                   "three outputs")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        stop.set()
        watcher.join()
    assert partial == []
    stage_pids = [int(p) for p in re.findall(r"started: pid (\d+)", log_path.read_text())]
    assert stage_pids
    wait_until(lambda: not any(pid_alive(p) for p in stage_pids), 10, "the stages to exit")
    done_before = {n for n in outputs(out) if n.endswith(".out")}
    assert 3 <= len(done_before) < 12

    command, report_path = slow_job(tmp_path, out, "--resume", "--quiet")
    resumed = subprocess.run(command, env=process_env(), capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(report_path.read_text())
    assert sorted(f"{r}.out" for r in report["Resumed"]) == sorted(done_before)
    assert len(report["Objects"]) == 12 - len(done_before)
    assert {n: d for n, d in outputs(out).items() if n.endswith(".out")} == expected


def test_sigterm_stops_the_job_and_keeps_only_complete_outputs(tmp_path):
    files = {f"p{i}.csv": csv_lines(2, i) for i in range(20)}
    write(tmp_path / "in", files)
    out = tmp_path / "out"
    command, report_path = slow_job(tmp_path, out, "--quiet")
    proc = subprocess.Popen(command, env=process_env(), stderr=subprocess.PIPE, text=True)
    wait_until(lambda: out.exists() and any(out.glob("*.out")), 60, "a first output")
    proc.send_signal(signal.SIGTERM)
    _, log = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, log
    report = json.loads(report_path.read_text())
    assert report["TransformJobStatus"] == "Stopped"
    left = outputs(out)
    assert all(left[n] == files[n[:-4]] for n in left), left.keys()  # only complete .out files
    assert 1 <= len(left) < 20


def test_shards_split_the_objects_between_hosts_and_together_equal_the_whole(tmp_path):
    files = {f"s/obj-{i}.csv": csv_lines(4, i) for i in range(10)}
    write(tmp_path / "in", files)
    expected = {f"{k}.out": v for k, v in files.items()}
    seen: dict[str, bytes] = {}
    for index in range(3):
        out = tmp_path / f"out{index}"
        env = {"JOB_COMPLETION_INDEX": str(index)} if index == 2 else {}
        args = ["--shard-count", "3"] + ([] if index == 2 else ["--shard-index", str(index)])
        run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                            "--output", str(out), "--split-type", "Line", *args, env=env)
        assert run.returncode == 0, run.log
        assert run.report["Shard"]["Index"] == index and run.report["Shard"]["Count"] == 3
        got = outputs(out) if out.exists() else {}
        assert not set(got) & set(seen), "an object was processed by two shards"
        seen.update(got)
    assert seen == expected


def test_shard_index_without_a_count_is_refused(tmp_path):
    write(tmp_path / "in", {"a.csv": b"1\n"})
    run = run_transform(tmp_path, identity_pipeline(1), "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "out"), env={"JOB_COMPLETION_INDEX": "1"})
    assert run.returncode == 2
    assert "JOB_COMPLETION_INDEX 1 needs a shard count" in run.log, run.log
