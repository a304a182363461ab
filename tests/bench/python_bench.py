#!/usr/bin/env python3
"""tandem-python against a Flask + gunicorn stage serving the same entry point, side by side.

Each setup is a one-stage tandem pipeline, so that only the stage differs: (a) the entry point
under Flask + gunicorn sync workers (flask_entry_point/, the Flask-family containers' request
path, with tandem-python's handler rules), (b) tandem-python over HTTP, (c) tandem-python over
`transport: shm`; and, when the build has it, (d) and (e) the C example stage on the same
stage library (examples/c-stage, echoing) over HTTP and shm, for the transport's own ratio.
The entry point's predict_fn returns its input (TANDEM_FRAMEWORK none). For
each body size: p50 and p99 at concurrency 1 and requests/s at concurrency 16 (wrk), each as a
ratio to (a), and (c)'s p50 against (b)'s; and the stage hop alone (its duration in tandem's
Server-Timing, median of --hop-requests sequential requests), which leaves out the client's
hop to tandem that every setup shares. --example SPEC also runs a pipeline of tandem-python
stages end to end against the same pipeline with every tandem-python stage swapped for (a).

With --rounds N every setup runs N times, interleaved, and each figure is the median.

Usage: tests/bench/python_bench.py [--bin build/release/bin] [--duration 5] [--rounds 3]
           [--workers 2] [--markdown] [--example examples/breast-cancer-scripts/pipeline.yaml
           --body-file examples/breast-cancer/heldout.csv]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chain_bench import Process, free_port, measure, median_of, print_table  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FLASK_STAGE = REPO / "tests/bench/flask_entry_point/serve"

ECHO = textwrap.dedent("""
    def input_fn(body, content_type):
        return body

    def predict_fn(data, model):
        return data

    def output_fn(prediction, accept):
        return prediction, "application/octet-stream"
    """)


def stage_spec(port, command, code_dir, workers, transport):
    return textwrap.dedent(f"""
        name: python-bench
        server:
          host: 127.0.0.1
          port: {port}
          stage_port_range: 42000-42999
        stages:
          - name: echo
            command: [{command}, serve]
            transport: {transport}
            max_inflight: 32
            startup_timeout_s: 60
            env:
              TANDEM_FRAMEWORK: none
              SAGEMAKER_PROGRAM: echo.py
              SAGEMAKER_SUBMIT_DIRECTORY: {code_dir}
              SAGEMAKER_MODEL_SERVER_WORKERS: '{workers}'
              EXAMPLE_C_ECHO: '1'
        """).lstrip()


def stage_hop_us(port, body, content_type, stage, requests):
    """The median of the stage's own duration in Server-Timing (tandem's send to its answer,
    without the client's hop to tandem), over `requests` sequential keep-alive requests."""
    import http.client
    import re
    data = Path(body).read_bytes()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    durations = []
    for _ in range(requests):
        connection.request("POST", "/invocations", data, {"Content-Type": content_type})
        response = connection.getresponse()
        response.read()
        timing = response.getheader("Server-Timing", "")
        match = re.search(rf"(?:^|, ){re.escape(stage)};dur=([\d.]+)", timing)
        if response.status != 200 or not match:
            raise RuntimeError(f"{response.status}, Server-Timing {timing!r}")
        durations.append(float(match.group(1)) * 1000)
    connection.close()
    return statistics.median(durations)


def run_spec(args, env, work, name, spec_text, body, content_type, hop_stage=None,
             spec_dir=None):
    """`spec_dir`: where the spec is written (relative paths in it resolve from there)."""
    port = free_port()
    spec = (spec_dir or work) / f".{name}-{os.getpid()}.yaml"
    spec.write_text(spec_text.replace("__PORT__", str(port)))
    proc = Process([f"{args.bin}/tandem", "serve", str(spec), "--port", str(port),
                    "--host", "127.0.0.1"], env, work / f"{name}.log")
    try:
        proc.wait_healthy(port, deadline_s=120)
        result = measure(port, body, content_type, args.duration)
        if hop_stage:
            result["hop_us"] = stage_hop_us(port, body, content_type, hop_stage, args.hop_requests)
        return result
    finally:
        proc.stop()
        spec.unlink()


def echo_suite(args, env, work):
    code_dir = work / "code"
    code_dir.mkdir()
    (code_dir / "echo.py").write_text(ECHO)
    setups = [("Flask + gunicorn (a)", str(FLASK_STAGE), "http"),
              ("tandem-python, HTTP (b)", "tandem-python", "http"),
              ("tandem-python, shm (c)", "tandem-python", "shm")]
    example_c = Path(args.bin) / "tandem-example-c"
    if example_c.exists():  # built with the tests: the transport's own ratio, without Python
        setups += [("C example stage, HTTP (d)", str(example_c), "http"),
                   ("C example stage, shm (e)", str(example_c), "shm")]
    rows = []
    for size in args.sizes:
        body = work / f"body-{size}.bin"
        body.write_bytes(b"x" * size)
        results = {name: [] for name, _, _ in setups}
        for _ in range(args.rounds):
            for name, command, transport in setups:
                spec = stage_spec("__PORT__", command, code_dir, args.workers, transport)
                results[name].append(run_spec(args, env, work, "echo", spec, body,
                                              "application/octet-stream", hop_stage="echo"))
        base = median_of(results[setups[0][0]])
        rows += [(name, size, median_of(results[name]), base) for name, _, _ in setups]
    return rows


def example_suite(args, env, work):
    spec_path = Path(args.example).resolve()
    text = spec_path.read_text()
    flask_text = text.replace("[tandem-python, serve]", f"[{FLASK_STAGE}, serve]")
    if flask_text == text:
        sys.exit(f"{spec_path}: no `command: [tandem-python, serve]` stage to compare")
    body = Path(args.body_file).resolve()
    setups = [("the example with Flask + gunicorn stages (a)", flask_text),
              ("the example with tandem-python stages", text)]
    results = {name: [] for name, _ in setups}
    for _ in range(args.rounds):
        for name, spec_text in setups:
            results[name].append(run_spec(args, env, work, "bench", spec_text, body,
                                          args.content_type, spec_dir=spec_path.parent))
    base = median_of(results[setups[0][0]])
    return [(name, body.stat().st_size, median_of(results[name]), base) for name, _ in setups]


def print_rows(rows, markdown):
    hops = all("hop_us" in r for _, _, r, _ in rows)
    header = ["setup", "body", "p50 µs (c=1)", "p99 µs (c=1)", "req/s (c=16)", "p50 ÷ (a)",
              "req/s ÷ (a)"] + (["stage hop p50 µs", "hop ÷ (a)"] if hops else [])
    lines = [[name, f"{size // 1024} KiB" if size >= 1024 else f"{size} B", f"{r['p50_us']:.0f}",
              f"{r['p99_us']:.0f}", f"{r['rps16']:.0f}", f"{r['p50_us'] / base['p50_us']:.2f}",
              f"{r['rps16'] / base['rps16']:.2f}"]
             + ([f"{r['hop_us']:.0f}", f"{r['hop_us'] / base['hop_us']:.2f}"] if hops else [])
             for name, size, r, base in rows]
    print_table(header, lines, markdown, width=26)


def print_targets(rows, markdown):
    by = {(name[-3:], size): r for name, size, r, _ in rows}
    for size in sorted({size for _, size, _, _ in rows}):
        a, b, c = by.get(("(a)", size)), by.get(("(b)", size)), by.get(("(c)", size))
        if not (a and b and c):
            continue
        checks = [("HTTP p50 ≤ Flask p50", b["p50_us"] <= a["p50_us"]),
                  ("HTTP req/s ≥ Flask req/s", b["rps16"] >= a["rps16"]),
                  ("shm p50 ≤ 0.5 × HTTP p50, end to end", c["p50_us"] <= 0.5 * b["p50_us"]),
                  ("shm stage hop ≤ 0.5 × HTTP stage hop", c["hop_us"] <= 0.5 * b["hop_us"])]
        for what, met in checks:
            line = f"{size // 1024} KiB: {what}: {'met' if met else 'NOT met'}"
            print(f"- {line}" if markdown else line)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(REPO / "build/release/bin"))
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 65536])
    parser.add_argument("--workers", type=int, default=2,
                        help="SAGEMAKER_MODEL_SERVER_WORKERS, and gunicorn's --workers")
    parser.add_argument("--hop-requests", type=int, default=2000,
                        help="sequential requests whose Server-Timing gives the stage hop")
    parser.add_argument("--example", help="also compare this pipeline of tandem-python stages")
    parser.add_argument("--example-only", action="store_true", help="skip the echo entry point")
    parser.add_argument("--body-file")
    parser.add_argument("--content-type", default="text/csv")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    args.bin = str(Path(args.bin).resolve())
    env = dict(os.environ, PATH=f"{args.bin}:{os.environ['PATH']}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.example_only:
            rows = echo_suite(args, env, work)
            print_rows(rows, args.markdown)
            print_targets(rows, args.markdown)
        if args.example:
            print()
            print_rows(example_suite(args, env, work), args.markdown)


if __name__ == "__main__":
    main()
