"""Helpers for the batch-transform integration tests: run `tandem transform` on a spec with
real stage processes, read its report, build inputs in every framing (CSV, JSON Lines,
RecordIO, TFRecord, gzip) and a stage that can be told to fail."""
from __future__ import annotations

import gzip
import itertools
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import HELPERS, complete_spec, identity, process_env, tandem_exe, write_spec

BATCH_STAGE = HELPERS / "batch_stage.py"
_spec_numbers = itertools.count()


def batch_stage(name: str, **knobs) -> dict:
    """helpers/batch_stage.py; keyword arguments are its BATCH_STAGE_<KNOB> variables."""
    return {"name": name, "command": [sys.executable, str(BATCH_STAGE), "serve"],
            "env": {f"BATCH_STAGE_{k.upper()}": str(v) for k, v in knobs.items()}}


def identity_pipeline(count: int = 3) -> dict:
    return {"version": 1, "name": "ids",
            "stages": [identity(f"id{i + 1}") for i in range(count)]}


def pipeline(*stages: dict, name: str = "batch") -> dict:
    return {"version": 1, "name": name, "stages": list(stages)}


@dataclass
class JobRun:
    returncode: int
    log: str
    report: dict | None

    def object_report(self, suffix: str) -> dict:
        assert self.report is not None, self.log
        matches = [o for o in self.report["Objects"] if o["Input"].endswith(suffix)]
        assert len(matches) == 1, (suffix, self.report["Objects"])
        return matches[0]


def transform_command(directory: Path, spec: dict, args: list[str]) -> tuple[list[str], Path]:
    number = next(_spec_numbers)
    spec_path = write_spec(directory, complete_spec(spec), f"pipeline-{number}.yaml")
    report = directory / f"report-{number}.json"
    return [str(tandem_exe()), "transform", str(spec_path), *args, "--report", str(report)], report


def run_transform(directory: Path, spec: dict, *args: str, env: dict | None = None,
                  timeout: float = 180) -> JobRun:
    command, report = transform_command(directory, spec, list(args))
    proc = subprocess.run(command, env=process_env(**(env or {})), capture_output=True,
                          timeout=timeout, text=True)
    data = json.loads(report.read_text()) if report.exists() else None
    return JobRun(proc.returncode, proc.stderr, data)


def outputs(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path (temporary files included, so a test sees
    them if any were left)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def csv_lines(count: int, start: int = 0, width: int = 3) -> bytes:
    return b"".join(
        (",".join(str((i + 1) * (k + 1)) for k in range(width)) + "\n").encode()
        for i in range(start, start + count))


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def stage_log(path: Path) -> list[dict]:
    """What helpers/batch_stage.py recorded (BATCH_STAGE_RECORD), one dict per invocation."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
