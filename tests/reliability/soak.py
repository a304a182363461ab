#!/usr/bin/python3
"""Soak: each pipeline under wrk with 16 connections for a long time (10 minutes by default).

For every pipeline (examples/breast-cancer, 3 identity stages over HTTP, the same over shared
memory), tandem serves while wrk runs back-to-back segments (a minute each by default); each
segment reports its latency percentiles, and the Lua script (soak.lua) counts every answer that
is not 2xx or not the expected body. tandem's resident memory (VmRSS) and open descriptors are
sampled every second.

Checks, per pipeline:
- zero non-2xx answers, and every 2xx body equal to the first answer (the exact expected
  answer for the identity pipelines);
- zero socket errors (connect, read, write: a dropped connection is a read error) and zero
  timeouts (wrk's timeout is 10 s);
- open descriptors flat: the highest count in the last segment within 10 % (+2) of the highest
  in the first segment after warm-up (the first segment is the warm-up);
- resident memory flat, the same way (not in --short: the ASan build's quarantine keeps freed
  memory, so RSS grows there by design);
- latency stable: the last segment's p50 within 1.5x and p99 within 2x of the first segment's
  (not in --short: no timed assertions in `make test`);
- tandem exits 0 on SIGTERM afterwards and no stage outlives it.

Usage: tests/reliability/soak.py [--bin build/release/bin] [--duration 600] [--segment 60]
       [--pipelines breast-cancer identity-http identity-shm] [--short] [--markdown-out FILE]
"""
from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (Checks, Pipeline, Sampler, Tandem, default_bin, finish, machine_line, pipelines,
                    table)

HERE = Path(__file__).resolve().parent
CONNECTIONS = 16


def run_wrk(tandem: Tandem, pipeline: Pipeline, body_file: Path, expected_file: Path,
            seconds: float) -> dict:
    env = {"SOAK_BODY": str(body_file), "SOAK_CONTENT_TYPE": pipeline.content_type,
           "SOAK_EXPECTED": str(expected_file), "PATH": "/usr/bin:/bin"}
    command = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(HERE / "soak.lua"),
               f"http://{tandem.host}:{tandem.port}/invocations"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return json.loads(line[len("RESULT "):])


def first_answer(tandem: Tandem, pipeline: Pipeline) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(tandem.host, tandem.port, timeout=30)
    try:
        conn.request("POST", "/invocations", body=pipeline.body,
                     headers={"Content-Type": pipeline.content_type})
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def soak(pipeline: Pipeline, args, work: Path, checks: Checks) -> list[list[str]]:
    print(f"\n== soak: {pipeline.title}, {args.duration:g} s in segments of {args.segment:g} s", flush=True)
    tandem = Tandem(args.bin, pipeline.spec, work, f"soak-{pipeline.key}")
    rows: list[list[str]] = []
    try:
        tandem.wait_serving()
        tandem.stage_pids()
        status, expected = first_answer(tandem, pipeline)
        if not checks.check(f"{pipeline.key}: first answer", status == 200 and
                            (pipeline.expected is None or expected == pipeline.expected),
                            f"{status} {expected[:80]!r}"):
            return rows
        body_file = work / f"{pipeline.key}.body"
        body_file.write_bytes(pipeline.body)
        expected_file = work / f"{pipeline.key}.expected"
        expected_file.write_bytes(expected)
        sampler = Sampler(tandem.pid, args.sample_interval)
        sampler.start()
        segments = []
        count = max(1, round(args.duration / args.segment))
        for i in range(count):
            start = time.monotonic()
            result = run_wrk(tandem, pipeline, body_file, expected_file, args.segment)
            result["start"], result["end"] = start, time.monotonic()
            segments.append(result)
            print(f"  segment {i + 1}/{count}: {result['requests']} requests, p50 {result['p50']} µs, "
                  f"p99 {result['p99']} µs, non-2xx {result['non2xx']}, errors "
                  f"{result['connect'] + result['read'] + result['write']}, timeouts {result['timeout']}",
                  flush=True)
        sampler.stop()
    finally:
        code = tandem.stop()
    checks.check(f"{pipeline.key}: exit on SIGTERM", code == 0, f"exit status {code}")
    checks.check(f"{pipeline.key}: no stage outlives tandem", not tandem.stages_left(),
                 f"left: {tandem.stages_left()}")

    total = sum(s["requests"] for s in segments)
    non2xx = sum(s["non2xx"] for s in segments)
    first_bad = next((s["first_bad_status"] for s in segments if s["first_bad_status"]), None)
    socket_errors = sum(s["connect"] + s["read"] + s["write"] for s in segments)
    timeouts = sum(s["timeout"] for s in segments)
    checks.check(f"{pipeline.key}: zero non-2xx", non2xx == 0,
                 f"{non2xx} of {total}" + (f" (first: {first_bad})" if first_bad else ""))
    checks.check(f"{pipeline.key}: zero dropped connections", socket_errors == 0,
                 f"{socket_errors} socket errors (connect/read/write)")
    checks.check(f"{pipeline.key}: zero timeouts (10 s)", timeouts == 0, f"{timeouts}")
    wrong_bodies = sum(s["wrong_body"] for s in segments)
    checks.check(f"{pipeline.key}: every 2xx body is the expected answer", wrong_bodies == 0,
                 f"{wrong_bodies} differ")

    warm = segments[1] if len(segments) >= 3 else segments[0]
    last = segments[-1]
    base_samples = sampler.between(warm["start"], warm["end"])
    last_samples = sampler.between(last["start"], last["end"])
    all_samples = sampler.samples
    if base_samples and last_samples:
        base_rss, last_rss = max(s[1] for s in base_samples), max(s[1] for s in last_samples)
        base_fds, last_fds = max(s[2] for s in base_samples), max(s[2] for s in last_samples)
        rss_growth = last_rss / base_rss - 1
        fd_seen = (f"{base_fds} after warm-up, {last_fds} at the end "
                   f"(range {min(s[2] for s in all_samples)}-{max(s[2] for s in all_samples)})")
        checks.check(f"{pipeline.key}: open descriptors flat", last_fds <= base_fds * 1.1 + 2, fd_seen)
        rss_seen = (f"{base_rss / 1024:.1f} MiB after warm-up, {last_rss / 1024:.1f} MiB at the end "
                    f"({rss_growth * 100:+.1f} %; peak {max(s[1] for s in all_samples) / 1024:.1f} MiB)")
        if args.check_rss:
            checks.check(f"{pipeline.key}: RSS growth < 10 % after warm-up", rss_growth < 0.10, rss_seen)
        else:
            checks.note(f"{pipeline.key}: RSS (ASan build: not checked)", rss_seen)
    else:
        checks.check(f"{pipeline.key}: samples of tandem's RSS and descriptors", False,
                     f"{len(base_samples)} after warm-up, {len(last_samples)} at the end")

    first, last = segments[0], segments[-1]
    latency_seen = (f"p50 {first['p50']} → {last['p50']} µs, p99 {first['p99']} → {last['p99']} µs "
                    "(first segment → last)")
    if args.check_timing:
        checks.check(f"{pipeline.key}: latency stable (last p50 ≤ 1.5× first, p99 ≤ 2× first)",
                     last["p50"] <= 1.5 * first["p50"] and last["p99"] <= 2 * first["p99"], latency_seen)
    else:
        checks.note(f"{pipeline.key}: latency (short run: not checked)", latency_seen)

    for i, s in enumerate(segments):
        samples = sampler.between(s["start"], s["end"])
        rows.append([pipeline.key, str(i + 1), f"{s['requests'] / (s['duration_us'] / 1e6):.0f}",
                     str(s["p50"]), str(s["p90"]), str(s["p99"]), str(s["max"]),
                     str(s["non2xx"] + s["wrong_body"]), str(s["connect"] + s["read"] + s["write"] + s["timeout"]),
                     f"{max(x[1] for x in samples) / 1024:.1f}" if samples else "-",
                     str(max(x[2] for x in samples)) if samples else "-"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", type=Path, default=default_bin())
    parser.add_argument("--duration", type=float, default=600, help="seconds per pipeline")
    parser.add_argument("--segment", type=float, default=60, help="seconds per wrk run (a table row)")
    parser.add_argument("--sample-interval", type=float, default=1.0)
    parser.add_argument("--pipelines", nargs="+", default=["breast-cancer", "identity-http", "identity-shm"])
    parser.add_argument("--short", action="store_true",
                        help="the `make test` version: 8 s per pipeline in 2 s segments; RSS and "
                             "latency reported, not checked")
    parser.add_argument("--markdown-out", help="append the results (markdown) to this file")
    args = parser.parse_args()
    args.check_rss = args.check_timing = not args.short
    if args.short:
        args.duration, args.segment, args.sample_interval = 8, 2, 0.25
    args.bin = args.bin.resolve()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    checks = Checks()
    rows: list[list[str]] = []
    started = machine_line()
    with tempfile.TemporaryDirectory(prefix="tandem-soak-") as tmp:
        for pipeline in pipelines(args.pipelines):
            try:
                rows += soak(pipeline, args, Path(tmp), checks)
            except RuntimeError as e:
                checks.check(f"{pipeline.key}: run", False, str(e).replace("\n", " ")[:500])
    header = ["pipeline", "segment", "req/s", "p50 µs", "p90 µs", "p99 µs", "max µs", "non-2xx or wrong",
              "socket errors", "RSS MiB", "fds"]
    report = [f"Soak: {CONNECTIONS} connections, {args.duration:g} s per pipeline in segments of "
              f"{args.segment:g} s; {args.bin}; started {started}, ended {machine_line()}",
              table(header, rows)]
    return finish(checks, report, args.markdown_out)


if __name__ == "__main__":
    sys.exit(main())
