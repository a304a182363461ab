#!/usr/bin/env python3
"""Batch-transform throughput and memory: a Line/MultiRecord job over a large CSV file
through three tandem-identity stages, against the raw speed of reading the same file.

For each size (default 1 and 4 GiB) it writes a CSV file of random 12-column rows, reads it
once with `cat > /dev/null` (the baseline: the page cache holds the file, as it does for the
job), runs `tandem transform` on it and samples tandem's peak resident memory (VmHWM) while
it runs. Reports MiB/s and records/s of both, their ratio, and tandem's peak memory, which
should not grow with the input's size (it is bounded by MaxConcurrentTransforms ×
MaxPayloadInMB).

Wall-clock rates depend on what else the machine runs; the CPU seconds per GiB (tandem and
its stages, against cat) do not, and say what the job costs.

With --rounds N the job runs N times on each size and each figure is the median.
With --baseline-bin DIR it also runs on the binaries in DIR (tandem and tandem-identity, e.g. a
release build of the code before a change), both builds on the same file, the first build
alternating from round to round; the table then gives each build's wall time, CPU seconds and
peak RSS (medians) and the ratio new ÷ baseline, with its range over the single rounds.

Usage: tests/bench/transform_bench.py [--bin build/release/bin] [--sizes-gib 1 4]
       [--max-concurrent 4] [--payload-mb 6] [--rounds 1] [--workdir DIR] [--markdown]
       tests/bench/transform_bench.py --baseline-bin /work/baseline/bin --sizes-gib 1 --rounds 2
"""
import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024

SPEC = """version: 1
name: bench-transform
server:
  stage_port_range: 23000-23099
stages:
  - name: id1
    command: [tandem-identity, serve]
  - name: id2
    command: [tandem-identity, serve]
  - name: id3
    command: [tandem-identity, serve]
"""


def write_csv(path: Path, size: int) -> int:
    """Writes at least `size` bytes of rows; returns the number of rows."""
    r = random.Random(7)
    rows = [",".join(f"{r.random():.6f}" for _ in range(12)) + "\n" for _ in range(4096)]
    block = "".join(rows).encode()
    written = 0
    count = 0
    with open(path, "wb") as f:
        while written < size:
            f.write(block)
            written += len(block)
            count += len(rows)
    return count


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def raw_read_seconds(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the faster of two `cat file > /dev/null`."""
    best = (float("inf"), 0.0)
    for _ in range(2):
        start, cpu = time.monotonic(), children_cpu()
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
        best = min(best, (time.monotonic() - start, children_cpu() - cpu))
    return best


def peak_rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def run_job(bin_dir: Path, spec: Path, data: Path, out: Path, args: argparse.Namespace,
            report: Path) -> tuple[float, float, int]:
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    command = [str(bin_dir / "tandem"), "transform", str(spec), "--input", str(data),
               "--output", str(out), "--content-type", "text/csv", "--split-type", "Line",
               "--strategy", "MultiRecord", "--max-payload-mb", str(args.payload_mb),
               "--max-concurrent", str(args.max_concurrent), "--quiet", "--report", str(report)]
    start, cpu = time.monotonic(), children_cpu()
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        value = peak_rss_kib(proc.pid)
        if value:
            peak = max(peak, value)
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    log = proc.stderr.read()
    if proc.returncode != 0:
        sys.exit(f"tandem transform failed ({proc.returncode}):\n{log}")
    # tandem's CPU and its stages' (each stage is reaped by its launcher, which tandem reaps).
    return elapsed, children_cpu() - cpu, peak


def run_checked(bin_dir: Path, spec: Path, data: Path, rows: int, work: Path,
                args: argparse.Namespace) -> dict:
    """One job on `data`, checked to have transformed every record into an output as large."""
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    report = work / "report.json"
    elapsed, cpu, peak_kib = run_job(bin_dir, spec, data, out, args, report)
    job = json.loads(report.read_text())
    assert job["Totals"]["Records"] == rows, (job["Totals"], rows)
    out_file = out / (data.name + ".out")
    assert out_file.stat().st_size == data.stat().st_size, "the output differs in size from the input"
    shutil.rmtree(out, ignore_errors=True)
    return {"job_s": elapsed, "job_cpu": cpu, "peak_mib": peak_kib / 1024}


def measure_size(gib: float, builds: list[tuple[str, Path]], spec: Path, work: Path,
                 args: argparse.Namespace) -> dict:
    """The raw read and, per build name, every round's job on one file of `gib` GiB."""
    data = work / f"data-{gib:g}gib.csv"
    rows = write_csv(data, int(gib * 1024 * MiB))
    size = data.stat().st_size
    raw, raw_cpu = raw_read_seconds(data)
    runs = {name: [] for name, _ in builds}
    for round_index in range(args.rounds):
        # Every other round reversed, so that neither build always runs first.
        for name, bin_dir in (builds if round_index % 2 == 0 else builds[::-1]):
            runs[name].append(run_checked(bin_dir, spec, data, rows, work, args))
    data.unlink()
    return {"gib": gib, "bytes": size, "rows": rows, "raw_s": raw, "raw_cpu": raw_cpu, "runs": runs}


def median_run(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def print_results(results: list[dict]) -> None:
    header = ("| input | raw read (cat) | tandem transform | ratio | records/s | CPU s per GiB "
              "(cat / tandem + stages) | tandem peak RSS |")
    print(header)
    print("|---|---|---|---|---|---|---|")
    for result in results:
        r = dict(result, **median_run(result["runs"]["new"]))
        gib = r["bytes"] / (1024 * MiB)
        raw_rate = r["bytes"] / MiB / r["raw_s"]
        job_rate = r["bytes"] / MiB / r["job_s"]
        print(f"| {r['gib']:g} GiB, {r['rows']:,} rows | {raw_rate:,.0f} MiB/s | "
              f"{job_rate:,.0f} MiB/s ({r['job_s']:.1f} s) | {job_rate / raw_rate:.3f} | "
              f"{r['rows'] / r['job_s']:,.0f} | {r['raw_cpu'] / gib:.2f} / "
              f"{r['job_cpu'] / gib:.1f} | {r['peak_mib']:.0f} MiB |")


def print_comparison(results: list[dict]) -> None:
    """Each figure on both builds, new ÷ baseline of the medians, and that ratio's range over the rounds."""
    print("| input | wall s new / base | new ÷ base (rounds) | CPU s new / base | new ÷ base (rounds) "
          "| peak RSS MiB new / base | new ÷ base (rounds) |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        new_runs, old_runs = result["runs"]["new"], result["runs"]["baseline"]
        new, old = median_run(new_runs), median_run(old_runs)
        cells = [f"{result['gib']:g} GiB, {result['rows']:,} rows"]
        for key, digits in (("job_s", 1), ("job_cpu", 1), ("peak_mib", 0)):
            ratios = [n[key] / o[key] for n, o in zip(new_runs, old_runs)]
            cells += [f"{new[key]:.{digits}f} / {old[key]:.{digits}f}",
                      f"{new[key] / old[key]:.3f} ({min(ratios):.2f}–{max(ratios):.2f})"]
        print("| " + " | ".join(cells) + " |")
    print("Below 1 is better (faster, less CPU, less memory). Wall time follows the machine's load;"
          "\nCPU seconds and peak RSS much less.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(REPO / "build" / "release" / "bin"))
    parser.add_argument("--sizes-gib", type=float, nargs="+", default=[1, 4])
    parser.add_argument("--max-concurrent", type=int, default=4)
    parser.add_argument("--payload-mb", type=int, default=6)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the job this many times on each size and report medians")
    parser.add_argument("--baseline-bin", metavar="DIR",
                        help="also run every job on the tandem and tandem-identity in DIR and "
                             "compare (new ÷ baseline)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    builds = [("new", Path(args.bin).resolve())]
    if args.baseline_bin:
        builds.append(("baseline", Path(args.baseline_bin).resolve()))
    for name, bin_dir in builds:
        for exe in ("tandem", "tandem-identity"):
            if not os.access(bin_dir / exe, os.X_OK):
                sys.exit(f"{bin_dir / exe} is missing")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tandem-transform-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "pipeline.yaml"
    spec.write_text(SPEC)
    try:
        results = [measure_size(gib, builds, spec, work, args) for gib in args.sizes_gib]
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"Line/MultiRecord, MaxPayloadInMB {args.payload_mb}, MaxConcurrentTransforms "
          f"{args.max_concurrent}, three tandem-identity stages over HTTP")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.baseline_bin:
        print(f"new: {builds[0][1]}, baseline: {builds[1][1]}, {args.rounds} round(s)")
        print_comparison(results)
    else:
        print_results(results)


if __name__ == "__main__":
    main()
