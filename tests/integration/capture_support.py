"""Helpers for the data-capture and replay tests: reading capture files and running
`tandem replay` (the S3 fixtures are in s3_support.py)."""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import complete_spec, process_env, tandem_exe, write_spec

CAPTURE_FILE_RE = re.compile(
    r"(?P<endpoint>[^/]+)/AllTraffic/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/"
    r"\d{2}-\d{2}-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl")


def capture_files(folder: Path) -> dict[str, list[dict]]:
    """Every capture file under `folder` (relative path -> its records, parsed)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            text = path.read_text()
            assert text.endswith("\n"), f"{path} does not end with a whole line"
            files[str(path.relative_to(folder))] = [json.loads(line) for line in text.splitlines()]
    return files


def records(folder: Path) -> list[dict]:
    return [r for rs in capture_files(folder).values() for r in rs]


@dataclass
class ReplayRun:
    returncode: int
    stdout: str
    log: str
    report: dict | None


def run_replay(directory: Path, spec: dict, *args: str, env: dict | None = None,
               timeout: float = 180, name: str = "replay") -> ReplayRun:
    spec_path = write_spec(directory, complete_spec(spec), f"{name}.yaml")
    report = directory / f"{name}-report.json"
    proc = subprocess.run([str(tandem_exe()), "replay", str(spec_path), *args, "--report",
                           str(report)], env=process_env(**(env or {})), capture_output=True,
                          timeout=timeout, text=True)
    data = json.loads(report.read_text()) if report.exists() else None
    return ReplayRun(proc.returncode, proc.stdout, proc.stderr, data)


def capture_line(event_id: str, input_body: str, output_body: str,
                 content_type: str = "text/csv", **metadata) -> str:
    """A record as SageMaker writes it."""
    return json.dumps({
        "captureData": {
            "endpointInput": {"observedContentType": content_type, "mode": "INPUT",
                              "data": input_body, "encoding": "CSV"},
            "endpointOutput": {"observedContentType": content_type, "mode": "OUTPUT",
                               "data": output_body, "encoding": "CSV"}},
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2024-02-14T17:25:49Z",
                          **metadata},
        "eventVersion": "0"})


