#!/usr/bin/python3
"""Batch under faults: `tandem transform` SIGKILLed and resumed, and stages crashing mid-job.

One input folder of CSV objects of varied sizes, split by Line into MultiRecord mini-batches
(MaxPayloadInMB 1, MaxConcurrentTransforms 2) through three tandem-identity stages that each
wait a little per call, so the job runs for a while.

1. Reference: the job uninterrupted.
2. Kills: the job started with --resume and SIGKILLed at a random moment, again and again
   (10 kills that hit a running job by default), then resumed to the end. A reader polls the
   output folder every few milliseconds the whole time.
   Checks: the final outputs are byte-identical to the reference (same names, same bytes, no
   .errors file, and no hidden `.<name>.out.tmp-*` file a kill left behind: the final
   --resume removes them, docs/transform.md); the reader never saw a `.out` whose bytes differ from the reference's (a
   partial or stray output); after each kill every stage of that run is gone within 10 s.
3. Stage crashes, InvocationsMaxRetries 3: while the job runs, a random stage is SIGKILLed
   (3 times by default, each once the previous one is back). Checks: the job completes (exit
   0), outputs byte-identical to the reference, the log shows each kill's restart and at least
   one failed attempt retried ("attempt N of 4 failed ... retrying"), none beyond attempt 4.
4. Stage crash, InvocationsMaxRetries 0: one stage SIGKILLed mid-job (once the first output is
   written; killed again, at most 4 more times, while a kill has failed nothing: one that
   meets no request in flight and none before its stage is back fails nothing, which a slow
   build makes likelier; the same holds for 3). Checks: the job fails
   (exit 1) and the report names at least one failed object after 1 attempt; every object
   reported Completed has the reference's bytes; no failed object has a `.out`.

Usage: tests/reliability/batch_faults.py [--bin build/release/bin] [--kills 10] [--crashes 3]
       [--objects 60] [--short] [--markdown-out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import Checks, default_bin, finish, machine_line, pid_alive, stage_port_range, table

def spec_text(delay_ms: int) -> str:
    lines = ["name: batch-faults", "server:", f"  stage_port_range: {stage_port_range()}",
             "  stage_stop_timeout_s: 5", "stages:"]
    for i in (1, 2, 3):
        lines += [f"  - name: s{i}", "    command: [tandem-identity, serve]",
                  f"    env: {{TANDEM_IDENTITY_DELAY_MS: '{delay_ms}'}}"]
    return "\n".join(lines) + "\n"


def make_inputs(folder: Path, objects: int, seed: int) -> int:
    """Objects of 1 KiB to about 3 MiB of CSV lines; returns the total size."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    total = 0
    for i in range(objects):
        lines = rng.choice([10, 200, 2000, 8000, 30000, 60000])
        data = "".join(f"{i},{n},{rng.random():.6f},{rng.randrange(10 ** 9)}\n" for n in range(lines)).encode()
        (folder / f"part-{i:03}.csv").write_bytes(data)
        total += len(data)
    return total


def outputs(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Job:
    def __init__(self, args, work: Path, name: str, out: Path, *extra: str):
        self.log_path = work / f"{name}.log"
        self.report_path = work / f"{name}.json"
        spec = work / "pipeline.yaml"
        if not spec.exists():
            spec.write_text(spec_text(args.stage_delay_ms))
        env = dict(os.environ, PATH=f"{args.bin}{os.pathsep}{os.environ.get('PATH', '')}")
        self.command = [str(args.bin / "tandem"), "transform", str(spec), "--input", str(work / "in"),
                        "--output", str(out), "--content-type", "text/csv", "--split-type", "Line",
                        "--strategy", "MultiRecord", "--max-payload-mb", "1", "--max-concurrent", "2",
                        "--assemble-with", "Line", "--report", str(self.report_path), *extra]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env)
        self.started = time.monotonic()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stage_pids(self) -> dict[str, int]:
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"stage '([^']+)' \(container-\d+\) started: pid (\d+)", self.log())}

    def all_stage_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"started: pid (\d+)", self.log())]

    def report(self) -> dict | None:
        try:
            return json.loads(self.report_path.read_text())
        except (FileNotFoundError, ValueError):
            return None


class Reader(threading.Thread):
    """Polls a folder: every visible `.out` must hold the reference's bytes whenever it is seen."""

    def __init__(self, folder: Path, expected: dict[str, bytes]):
        super().__init__(daemon=True)
        self.folder, self.expected = folder, expected
        self.bad: list[str] = []
        self.looks = 0
        self.checked = 0
        self.stopping = threading.Event()
        self.seen: dict[str, tuple] = {}

    def run(self) -> None:
        while not self.stopping.is_set():
            self.look()
            self.looks += 1
            time.sleep(0.003)

    def look(self) -> None:
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return
        for entry in entries:
            if not entry.name.endswith(".out") or entry.name.startswith("."):
                continue
            try:
                st = entry.stat()
                key = (st.st_ino, st.st_size, st.st_mtime_ns)
                if self.seen.get(entry.name) == key:
                    continue
                with open(entry.path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            self.checked += 1
            self.seen[entry.name] = key
            if data != self.expected.get(entry.name):
                self.bad.append(f"{entry.name}: {len(data)} bytes, expected "
                                f"{len(self.expected.get(entry.name, b''))}")


def wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.02)
    return [p for p in pids if pid_alive(p)]


def reference(args, work: Path, checks: Checks) -> tuple[dict[str, bytes], float]:
    start = time.monotonic()
    job = Job(args, work, "reference", work / "out-reference")
    code = job.proc.wait(args.job_timeout)
    seconds = time.monotonic() - start
    expected = outputs(work / "out-reference")
    inputs = sorted(p.name for p in (work / "in").iterdir())
    checks.check("reference job completes with every output", code == 0 and
                 sorted(expected) == [f"{n}.out" for n in inputs], f"exit {code}, {len(expected)} outputs "
                 f"of {len(inputs)} inputs in {seconds:.1f} s")
    checks.check("reference outputs equal the inputs (identity stages)",
                 all(expected.get(f"{n}.out") == (work / "in" / n).read_bytes() for n in inputs),
                 f"{sum(len(v) for v in expected.values()) / 2 ** 20:.1f} MiB")
    return expected, seconds


def kills_and_resumes(args, work: Path, expected: dict[str, bytes], ref_seconds: float,
                      checks: Checks, rng: random.Random) -> list[list[str]]:
    out = work / "out-killed"
    out.mkdir()
    reader = Reader(out, expected)
    reader.start()
    rows, kills, runs, restarted_from_scratch = [], 0, 0, 0
    left_behind: list[int] = []
    # Each run is killed after a random delay; on average the kills use up about 60 % of the
    # reference's time, so the job is still running for most of them.
    upper = max(0.3, 1.2 * ref_seconds / max(args.kills, 1))
    try:
        while kills < args.kills:
            runs += 1
            job = Job(args, work, f"killed-{runs}", out, "--resume", "--quiet")
            delay = rng.uniform(0.05, upper)
            time.sleep(delay)
            done_before = len([n for n in os.listdir(out) if n.endswith(".out")])
            if job.proc.poll() is not None:
                # It finished first: start the series over on an empty folder.
                restarted_from_scratch += 1
                for p in out.iterdir():
                    p.unlink()
                continue
            job.proc.send_signal(signal.SIGKILL)
            job.proc.wait(30)
            kills += 1
            left = wait_gone(job.all_stage_pids())
            left_behind += left
            rows.append([str(kills), f"{delay:.2f}", str(done_before),
                         str(len(job.all_stage_pids())), "none" if not left else str(left)])
        final = Job(args, work, "resumed", out, "--resume", "--quiet")
        code = final.proc.wait(args.job_timeout)
        report = final.report() or {}
    finally:
        reader.stopping.set()
        reader.join()
    reader.look()  # one last look after the end
    everything = outputs(out)
    # A killed job may leave hidden `.<name>.out.tmp-*` files; the final --resume removes them.
    leftovers = [n for n in everything if re.fullmatch(r"(.*/)?\.[^/]+\.tmp-[0-9a-f]+", n)]
    got = {n: d for n, d in everything.items() if n not in leftovers}
    checks.check(f"{args.kills} SIGKILLs landed on a running job", kills == args.kills,
                 f"{kills} kills in {runs} runs ({restarted_from_scratch} runs finished before their kill)")
    checks.check("the last resume completes", code == 0 and report.get("TransformJobStatus") == "Completed",
                 f"exit {code}, {report.get('TransformJobStatus')}, resumed {len(report.get('Resumed', []))} objects")
    differing = sorted(set(got) ^ set(expected)) + sorted(n for n in got if n in expected and got[n] != expected[n])
    checks.check("outputs after kills and resumes are byte-identical to the uninterrupted run",
                 not differing, f"{len(got)} files" + (f"; differ: {differing[:5]}" if differing else ""))
    checks.check("the last --resume removed the hidden temporary files the kills left",
                 not leftovers, f"{len(leftovers)} left" + (f": {leftovers[:3]}" if leftovers else ""))
    checks.check("no reader ever saw a partial or wrong .out", not reader.bad,
                 f"{reader.looks} looks at the folder, {reader.checked} .out reads"
                 + (f"; bad: {reader.bad[:3]}" if reader.bad else ""))
    checks.check("no stage outlives a SIGKILLed job", not left_behind, f"left: {left_behind}")
    return rows


def crashes(args, work: Path, expected: dict[str, bytes], ref_seconds: float, checks: Checks,
            rng: random.Random, retries: int, count: int) -> str:
    out = work / f"out-crash-{retries}"
    job = Job(args, work, f"crash-{retries}", out, "--max-retries", str(retries))
    killed: list[tuple[str, int]] = []
    # A kill that lands while the victim has no request and none arrives before it is back
    # fails nothing (likelier on a slow build): such a kill does not count, and the victim is
    # killed again, up to 4 extra times.
    failure = re.compile(r"attempt \d of \d failed" if retries else r"FAILED, no \.out written")

    def hits() -> int:
        return min(len(killed), len(failure.findall(job.log())))

    while hits() < count and len(killed) < count + 4 and job.proc.poll() is None:
        time.sleep(rng.uniform(0.3, max(0.5, ref_seconds / (count + 1))))
        pids = job.stage_pids()
        if len(pids) < 3 or job.proc.poll() is not None:
            continue
        # Mid-job means requests are flowing: not before the first output is written (a kill
        # during start-up fails the start, and one before the first request fails nothing).
        if not any(out.rglob("*.out")):
            continue
        # Only once the last victim is healthy again, so each kill meets a running stage.
        if killed:
            victim, old_pid = killed[-1]
            log = job.log()
            if pids[victim] == old_pid or not re.search(
                    rf"stage '{victim}' \(container-\d+\) is healthy again",
                    log[log.rfind(f"started: pid {pids[victim]}"):]):
                continue
        if hits() >= count:
            break  # the last kill did fail something, only later than the loop looked
        stage = rng.choice(sorted(pids))
        if not pid_alive(pids[stage]):
            continue
        os.kill(pids[stage], signal.SIGKILL)
        killed.append((stage, pids[stage]))
    code = job.proc.wait(args.job_timeout)
    log, report = job.log(), job.report() or {}
    got = outputs(out)
    retried = re.findall(r"attempt (\d) of (\d) failed", log)
    restarts = len(re.findall(r"is healthy again", log))
    name = f"InvocationsMaxRetries {retries}"
    if retries > 0:
        checks.check(f"{name}: {count} stage kills mid-job", len(killed) >= count,
                     f"{len(killed)} kills ({', '.join(s for s, _ in killed)})")
        checks.check(f"{name}: the job completes", code == 0 and report.get("TransformJobStatus") == "Completed",
                     f"exit {code}, {report.get('TransformJobStatus')}")
        checks.check(f"{name}: each killed stage restarted", restarts >= len(killed),
                     f"{restarts} restarts logged")
        checks.check(f"{name}: failed attempts retried, never beyond attempt {retries + 1}",
                     retried and all(int(a) <= retries and int(b) == retries + 1 for a, b in retried),
                     f"{len(retried)} retries logged")
        checks.check(f"{name}: outputs byte-identical to the uninterrupted run", got == expected,
                     f"{len(got)} files" + ("" if got == expected else
                                            f"; differ: {sorted(set(got) ^ set(expected))[:5]}"))
        return f"{len(killed)} kills, {restarts} restarts, {len(retried)} attempts retried, exit {code}"
    objects = report.get("Objects", [])
    failed = [o for o in objects if o.get("Status") == "Failed"]
    completed = [o for o in objects if o.get("Status") == "Completed"]
    checks.check(f"{name}: a stage kill mid-job fails its objects after 1 attempt",
                 code == 1 and failed and all(o.get("Failure", {}).get("Attempts") == 1 for o in failed),
                 f"exit {code}, {len(failed)} failed, attempts "
                 f"{sorted({o.get('Failure', {}).get('Attempts') for o in failed}, key=str)}")
    wrong = [o["Input"] for o in completed
             if got.get(Path(o["Input"]).name + ".out") != expected.get(Path(o["Input"]).name + ".out")]
    stray = [Path(o["Input"]).name + ".out" for o in failed if Path(o["Input"]).name + ".out" in got]
    checks.check(f"{name}: completed objects intact, failed ones without .out", not wrong and not stray,
                 f"{len(completed)} completed; wrong {wrong[:3]}, stray {stray[:3]}")
    return f"{len(killed)} kill, {len(failed)} objects failed, {len(completed)} completed, exit {code}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", type=Path, default=default_bin())
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--objects", type=int, default=60)
    parser.add_argument("--stage-delay-ms", type=int, default=60, help="each stage's wait per call")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--work", help="keep the inputs, outputs and logs in this (new) folder")
    parser.add_argument("--job-timeout", type=float, default=600)
    parser.add_argument("--short", action="store_true",
                        help="the `make test` version: 16 objects, 20 ms a call, 3 kills, 1 stage crash")
    parser.add_argument("--markdown-out", help="append the results (markdown) to this file")
    args = parser.parse_args()
    args.bin = args.bin.resolve()
    if args.short:
        args.kills, args.crashes, args.objects, args.stage_delay_ms = 3, 1, 16, 20
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    print(f"seed {args.seed}", flush=True)
    rng = random.Random(args.seed)
    checks = Checks()
    started = machine_line()
    with tempfile.TemporaryDirectory(prefix="tandem-batch-faults-") as tmp:
        work = Path(args.work or tmp)
        size = make_inputs(work / "in", args.objects, args.seed)
        print(f"== reference job: {args.objects} objects, {size / 2 ** 20:.1f} MiB", flush=True)
        expected, ref_seconds = reference(args, work, checks)
        print(f"== {args.kills} SIGKILLs of the job, each followed by --resume", flush=True)
        rows = kills_and_resumes(args, work, expected, ref_seconds, checks, rng)
        print(f"== {args.crashes} stage crashes mid-job, InvocationsMaxRetries 3", flush=True)
        retried = crashes(args, work, expected, ref_seconds, checks, rng, 3, args.crashes)
        print("== 1 stage crash mid-job, InvocationsMaxRetries 0", flush=True)
        unretried = crashes(args, work, expected, ref_seconds, checks, rng, 0, 1)
    report = [f"Batch under faults: {args.objects} objects ({size / 2 ** 20:.1f} MiB), Line/MultiRecord, "
              f"MaxPayloadInMB 1, MaxConcurrentTransforms 2, 3 identity stages ({args.stage_delay_ms} ms a call); "
              f"uninterrupted run {ref_seconds:.1f} s; seed {args.seed}; {args.bin}; started {started}, "
              f"ended {machine_line()}",
              table(["kill", "after s", ".out files before", "stages started", "stages left"], rows),
              f"Stage crashes with InvocationsMaxRetries 3: {retried}. With InvocationsMaxRetries 0: {unretried}."]
    return finish(checks, report, args.markdown_out)


if __name__ == "__main__":
    sys.exit(main())
