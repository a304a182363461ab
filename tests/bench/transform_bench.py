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

Usage: tests/bench/transform_bench.py [--bin build/release/bin] [--sizes-gib 1 4]
       [--max-concurrent 4] [--payload-mb 6] [--workdir DIR] [--markdown]
"""
import argparse
import json
import os
import random
import resource
import shutil
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(REPO / "build" / "release" / "bin"))
    parser.add_argument("--sizes-gib", type=float, nargs="+", default=[1, 4])
    parser.add_argument("--max-concurrent", type=int, default=4)
    parser.add_argument("--payload-mb", type=int, default=6)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    bin_dir = Path(args.bin).resolve()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tandem-transform-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "pipeline.yaml"
    spec.write_text(SPEC)
    results = []
    try:
        for gib in args.sizes_gib:
            data = work / f"data-{gib:g}gib.csv"
            rows = write_csv(data, int(gib * 1024 * MiB))
            size = data.stat().st_size
            raw, raw_cpu = raw_read_seconds(data)
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            report = work / "report.json"
            elapsed, cpu, peak_kib = run_job(bin_dir, spec, data, out, args, report)
            job = json.loads(report.read_text())
            assert job["Totals"]["Records"] == rows, (job["Totals"], rows)
            out_file = out / (data.name + ".out")
            assert out_file.stat().st_size == size, "the output differs in size from the input"
            results.append({"gib": gib, "bytes": size, "rows": rows, "raw_s": raw,
                            "raw_cpu": raw_cpu, "job_s": elapsed, "job_cpu": cpu,
                            "peak_mib": peak_kib / 1024})
            shutil.rmtree(out, ignore_errors=True)
            data.unlink()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"Line/MultiRecord, MaxPayloadInMB {args.payload_mb}, MaxConcurrentTransforms "
          f"{args.max_concurrent}, three tandem-identity stages over HTTP")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    header = ("| input | raw read (cat) | tandem transform | ratio | records/s | CPU s per GiB "
              "(cat / tandem + stages) | tandem peak RSS |")
    print(header)
    print("|---|---|---|---|---|---|---|")
    for r in results:
        gib = r["bytes"] / (1024 * MiB)
        raw_rate = r["bytes"] / MiB / r["raw_s"]
        job_rate = r["bytes"] / MiB / r["job_s"]
        print(f"| {r['gib']:g} GiB, {r['rows']:,} rows | {raw_rate:,.0f} MiB/s | "
              f"{job_rate:,.0f} MiB/s ({r['job_s']:.1f} s) | {job_rate / raw_rate:.3f} | "
              f"{r['rows'] / r['job_s']:,.0f} | {r['raw_cpu'] / gib:.2f} / "
              f"{r['job_cpu'] / gib:.1f} | {r['peak_mib']:.0f} MiB |")


if __name__ == "__main__":
    main()
