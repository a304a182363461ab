#!/usr/bin/python3
"""The reliability suite in one command: chaos.py, batch_faults.py and soak.py one after the
other, their results appended to one markdown file. Long versions by default (10 minutes of
soak per pipeline, 2 minutes of chaos per pipeline, 10 kills of a transform job); --short runs
the versions in `make test`. Exits 1 if any check of any part failed.

Usage: tests/reliability/run.py [--bin build/release/bin] [--short]
       [--markdown-out build/reliability/results.md] [--only soak chaos batch_faults]
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, default_bin, machine_line

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", type=Path, default=default_bin())
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--markdown-out", type=Path, default=REPO / "build" / "reliability" / "results.md")
    parser.add_argument("--only", nargs="+", default=["chaos", "batch_faults", "soak"],
                        choices=["soak", "chaos", "batch_faults"])
    args = parser.parse_args()
    args.markdown_out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.markdown_out, "w") as f:
        f.write(f"# Reliability suite{' (short)' if args.short else ''}: {machine_line()}\n\n"
                f"`{os.uname().nodename}`, {os.cpu_count()} cores; {args.bin}\n\n")
    failed = []
    for part in args.only:
        start = time.monotonic()
        command = ["/usr/bin/python3", str(HERE / f"{part}.py"), "--bin", str(args.bin),
                   "--markdown-out", str(args.markdown_out)] + (["--short"] if args.short else [])
        print(f"### {' '.join(command)}", flush=True)
        code = subprocess.run(command).returncode
        print(f"### {part}: exit {code} after {time.monotonic() - start:.0f} s", flush=True)
        if code != 0:
            failed.append(part)
    print(f"\nResults: {args.markdown_out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
