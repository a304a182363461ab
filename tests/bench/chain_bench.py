#!/usr/bin/env python3
"""Per-hop overhead of tandem over HTTP and shared memory, measured side by side with wrk.

Runs, in one go on this machine: (a) wrk straight against one tandem-identity stage,
(b) wrk against tandem serving 1, 3 and 5 identity stages over HTTP, (c) the same with
`transport: shm`, for each body size; reports p50 and p99 at concurrency 1 and requests/s at
concurrency 16, each ratio to (a), and whether the targets of the shm transport were met.
--google-benchmark also runs bench_shm_hop (one shm hop in isolation) from the same build.
Optionally (--spec) measures a given pipeline (e.g. the bundled example) with a given body.

With --rounds N every setup runs N times, interleaved, and each figure is the median.

Usage: tests/bench/chain_bench.py [--bin build/release/bin] [--duration 10] [--rounds 1] [--markdown]
       [--transports http shm] [--google-benchmark]
       tests/bench/chain_bench.py --spec examples/breast-cancer/pipeline.yaml \
           --body-file examples/breast-cancer/heldout.csv --content-type text/csv
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path="/ping", deadline_s=30):
    import http.client
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing healthy on port {port} within {deadline_s} s")


def wrk(port, body_file, content_type, connections, duration, path="/invocations"):
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'local f = io.open("%s", "rb"); wrk.body = f:read("*a"); f:close()\n'
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "%s"\n' % (body_file, content_type))
    out = subprocess.run(
        ["wrk", "-t", "1" if connections == 1 else "2", "-c", str(connections), "-d", f"{duration}s",
         "--latency", "-s", str(script), f"http://127.0.0.1:{port}{path}"],
        check=True, capture_output=True, text=True).stdout
    script.unlink()
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError("wrk saw errors:\n" + out)

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 1, "ms": 1e3, "s": 1e6}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"p50_us": latency(50), "p99_us": latency(99), "rps": rps}


def measure(port, body_file, content_type, duration):
    one = wrk(port, body_file, content_type, 1, duration)
    many = wrk(port, body_file, content_type, 16, duration)
    return {"p50_us": one["p50_us"], "p99_us": one["p99_us"], "rps16": many["rps"]}


class Process:
    def __init__(self, argv, env, log):
        self.path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, port, deadline_s=30):
        try:
            wait_http(port, deadline_s=deadline_s)
        except RuntimeError:
            self.log.flush()
            sys.stderr.write(Path(self.path).read_text()[-4000:])
            raise

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def identity_spec(stages, port, bin_dir, threads, transport="http"):
    lines = [f"name: bench-{stages}", "server:", "  host: 127.0.0.1", f"  port: {port}",
             "  stage_port_range: 41000-41999", "stages:"]
    for i in range(stages):
        lines += [f"  - name: s{i + 1}", f"    command: [{bin_dir}/tandem-identity, serve]",
                  f"    env: {{TANDEM_STAGE_THREADS: '{threads}'}}", "    max_inflight: 32",
                  f"    transport: {transport}"]
    return "\n".join(lines) + "\n"


def run_one(argv, env, log, port, body, duration):
    proc = Process(argv, env, log)
    try:
        proc.wait_healthy(port)
        return measure(port, body, "application/octet-stream", duration)
    finally:
        proc.stop()


def median_of(results):
    """Each figure's median over the rounds (a noisy machine moves single runs a lot)."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def run_identity_suite(args, env, work):
    rows = []
    for size in args.sizes:
        body = work / f"body-{size}.bin"
        body.write_bytes(b"x" * size)
        setups = [("direct identity (a)", None, None)]
        for transport in args.transports:
            label = "HTTP" if transport == "http" else "shm"
            letter = "b" if transport == "http" else "c"
            setups += [(f"tandem, {n} {label} stage(s) ({letter})", transport, n) for n in args.stages]
        results = {name: [] for name, _, _ in setups}
        # Rounds interleave every setup, so that a change in the machine's load touches all.
        for _ in range(args.rounds):
            for name, transport, stages in setups:
                port = free_port()
                if transport is None:
                    stage_env = dict(env, SAGEMAKER_BIND_TO_PORT=str(port),
                                     TANDEM_STAGE_THREADS=str(args.threads))
                    argv = [f"{args.bin}/tandem-identity", "serve"]
                    results[name].append(run_one(argv, stage_env, work / "direct.log", port, body,
                                                 args.duration))
                    continue
                spec = work / f"bench-{stages}.yaml"
                spec.write_text(identity_spec(stages, port, args.bin, args.threads, transport))
                argv = [f"{args.bin}/tandem", "serve", str(spec)]
                results[name].append(run_one(argv, env, work / f"tandem-{stages}.log", port, body,
                                             args.duration))
        base = median_of(results["direct identity (a)"])
        rows += [(name, size, median_of(results[name]), base) for name, _, _ in setups]
    return rows


# The targets of the shm transport (issue 5), checked on the 3-stage rows.
TARGETS = [
    ("3 shm stages: p50 ≤ 1.5 × (a)", "tandem, 3 shm stage(s) (c)", lambda r, a: r["p50_us"] <= 1.5 * a["p50_us"]),
    ("3 HTTP stages: p50 ≤ 4.6 × (a)", "tandem, 3 HTTP stage(s) (b)", lambda r, a: r["p50_us"] <= 4.6 * a["p50_us"]),
    ("3 shm stages: req/s ≥ 0.6 × (a)", "tandem, 3 shm stage(s) (c)", lambda r, a: r["rps16"] >= 0.6 * a["rps16"]),
]


def print_targets(rows, markdown):
    by = {(name, size): (r, base) for name, size, r, base in rows}
    for size in sorted({size for _, size, _, _ in rows}):
        for what, row, check in TARGETS:
            if (row, size) not in by:
                continue
            r, base = by[(row, size)]
            met = "met" if check(r, base) else "NOT met"
            line = f"{size // 1024} KiB: {what}: {met}"
            print(f"- {line}" if markdown else line)


def run_google_benchmark(args):
    exe = Path(args.bin) / "bench_shm_hop"
    if not exe.exists():
        sys.exit(f"{exe} is missing: cmake --build <build> --target bench_shm_hop")
    subprocess.run([str(exe), "--benchmark_min_time=1"], check=True)


def print_rows(rows, markdown):
    header = ["setup", "body", "p50 µs (c=1)", "p99 µs (c=1)", "req/s (c=16)", "p50 ÷ (a)", "req/s ÷ (a)"]
    lines = []
    for name, size, r, base in rows:
        lines.append([name, f"{size // 1024} KiB" if size >= 1024 else f"{size} B",
                      f"{r['p50_us']:.0f}", f"{r['p99_us']:.0f}", f"{r['rps16']:.0f}",
                      f"{r['p50_us'] / base['p50_us']:.2f}", f"{r['rps16'] / base['rps16']:.2f}"])
    print_table(header, lines, markdown)


def print_table(header, lines, markdown, width=22):
    """A table as Markdown, or as right-aligned columns."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        for line in [header] + lines:
            print("  ".join(f"{c:>{width}}" for c in line))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(REPO / "build/release/bin"))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every setup this many times, interleaved, and report medians")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 65536])
    parser.add_argument("--stages", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--threads", type=int, default=2, help="TANDEM_STAGE_THREADS of identity stages")
    parser.add_argument("--spec", help="also measure this pipeline")
    parser.add_argument("--body-file")
    parser.add_argument("--content-type", default="text/csv")
    parser.add_argument("--transports", nargs="+", choices=["http", "shm"], default=["http", "shm"])
    parser.add_argument("--google-benchmark", action="store_true", help="also run bench_shm_hop")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    args.bin = str(Path(args.bin).resolve())
    env = dict(os.environ, PATH=f"{args.bin}:{os.environ['PATH']}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.spec:
            port = free_port()
            tandem = Process([f"{args.bin}/tandem", "serve", args.spec, "--port", str(port), "--host", "127.0.0.1"],
                             env, work / "spec.log")
            try:
                tandem.wait_healthy(port, deadline_s=120)
                r = measure(port, Path(args.body_file).resolve(), args.content_type, args.duration)
            finally:
                tandem.stop()
            print(f"{args.spec}: p50 {r['p50_us']:.0f} µs, p99 {r['p99_us']:.0f} µs at c=1; "
                  f"{r['rps16']:.0f} req/s at c=16")
            return
        rows = run_identity_suite(args, env, work)
        print_rows(rows, args.markdown)
        print()
        print_targets(rows, args.markdown)
    if args.google_benchmark:
        run_google_benchmark(args)


if __name__ == "__main__":
    main()
