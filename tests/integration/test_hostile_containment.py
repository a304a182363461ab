"""A stage cannot outlive tandem by leaving its session: a launcher that forks a child calling
setsid(), or a classic double-forking daemon, is stopped with its stage when `tandem serve`
stops, when tandem is SIGKILLed, when the stage crashes (before its restart starts) and when
`tandem transform` finishes. The process group kill alone misses these descendants; the shim
between tandem and each stage is their subreaper and finds them all. Such a daemon listening
beyond loopback is warned about like the stage itself."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from harness import HELPERS, pid_alive, wait_until
from transform_support import pipeline, run_transform

DAEMONIZING_STAGE = HELPERS / "daemonizing_stage.py"
KINDS = ["setsid", "double_fork"]
DEADLINE_S = 10.0


def daemonizing_stage(name: str, record: Path, kind: str, *, ignores_sigterm: bool,
                      daemon_listens: str = "") -> dict:
    return {"name": name, "command": [sys.executable, str(DAEMONIZING_STAGE)],
            "env": {"DAEMON_STAGE_KIND": kind, "DAEMON_STAGE_RECORD": str(record),
                    "DAEMON_STAGE_DAEMON_IGNORES_SIGTERM": "1" if ignores_sigterm else "0",
                    "DAEMON_STAGE_DAEMON_LISTEN": daemon_listens}}


def events(record: Path) -> list[dict]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]


def starts(record: Path) -> list[dict]:
    return [e for e in events(record) if e["event"] == "started"]


def wait_for_starts(record: Path, count: int) -> list[dict]:
    return wait_until(lambda: starts(record) if len(starts(record)) >= count else None,
                      DEADLINE_S, f"{count} stage start(s) recorded in {record}")


def assert_all_gone(pids: list[int], what: str) -> None:
    wait_until(lambda: not [p for p in pids if pid_alive(p)], DEADLINE_S,
               lambda: f"{what}: still alive: {[p for p in pids if pid_alive(p)]} "
                       f"(parents: {[parent_of(p) for p in pids if pid_alive(p)]})")


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.fixture
def record(tmp_path):
    """The stage's event file; every daemon it names is SIGKILLed at teardown, so a failing
    run (tandem without containment) leaves nothing behind."""
    path = tmp_path / "daemon-events.jsonl"
    yield path
    for event in starts(path):
        for pid in (event["daemon"], event["launcher"]):
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_stop_kills_daemon_that_ignores_sigterm(tandem_factory, record, kind):
    tandem = tandem_factory({"name": "contained", "server": {"stage_stop_timeout_s": 1},
                             "stages": [daemonizing_stage("d", record, kind,
                                                          ignores_sigterm=True)]})
    [start] = wait_for_starts(record, 1)
    assert pid_alive(start["daemon"])
    assert os.getsid(start["daemon"]) != os.getsid(start["launcher"])  # it left the session
    assert tandem.invoke(b"hi", "text/plain").body == b"hi"
    assert tandem.terminate() == 0, tandem.log_tail()
    assert_all_gone([start["daemon"], start["launcher"]],
                    "the stage's daemon after tandem serve's SIGTERM stop")
    log = tandem.log()
    assert ("stage 'd' (container-1) did not stop within 1 s of SIGTERM; sending SIGKILL"
            in log), log


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_stop_reaches_daemon_outside_the_group(tandem_factory, record, kind):
    """The daemon gets the stop's SIGTERM itself and finishes within the grace period."""
    tandem = tandem_factory({"name": "graceful", "server": {"stage_stop_timeout_s": 20},
                             "stages": [daemonizing_stage("d", record, kind,
                                                          ignores_sigterm=False)]})
    [start] = wait_for_starts(record, 1)
    started = time.monotonic()
    assert tandem.terminate() == 0, tandem.log_tail()
    assert time.monotonic() - started < 15, "the stop waited for stage_stop_timeout_s"
    assert {"event": "daemon got SIGTERM", "daemon": start["daemon"]} in events(record)
    assert not pid_alive(start["daemon"])
    assert "sending SIGKILL" not in tandem.log()


@pytest.mark.parametrize("kind", KINDS)
def test_tandem_sigkilled_leaves_no_daemon(tandem_factory, record, kind):
    tandem = tandem_factory({"name": "killed", "stages": [
        daemonizing_stage("d", record, kind, ignores_sigterm=True)]})
    [start] = wait_for_starts(record, 1)
    tandem.expected_exit = None
    tandem.proc.kill()
    tandem.proc.wait(10)
    assert_all_gone([start["daemon"], start["launcher"]],
                    "the stage and its daemon after tandem was SIGKILLed")


@pytest.mark.parametrize("kind", KINDS)
def test_crashed_stage_daemon_is_gone_before_the_restart(tandem_factory, record, kind):
    tandem = tandem_factory({"name": "crashy", "stages": [
        daemonizing_stage("d", record, kind, ignores_sigterm=True)]})
    [first] = wait_for_starts(record, 1)
    try:
        tandem.invoke(b"crash", "text/plain")
    except OSError:
        pass  # the stage died under the request
    tandem.wait_for_log(r"stage 'd' \(container-1\) exited with status 3")
    second = wait_for_starts(record, 2)[1]
    tandem.wait_ping(200)
    # When the restarted launcher started, the old daemon was already gone.
    assert second["alive_from_before"] == [], second
    assert not pid_alive(first["daemon"])
    assert pid_alive(second["daemon"])
    assert tandem.invoke(b"again", "text/plain").body == b"again"


@pytest.mark.parametrize("kind", KINDS)
def test_transform_finishing_leaves_no_daemon(tmp_path, record, kind):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_bytes(b"1,2\n3,4\n")
    spec = pipeline(daemonizing_stage("d", record, kind, ignores_sigterm=True))
    spec["server"] = {"stage_stop_timeout_s": 1}
    run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                        str(tmp_path / "out"))
    assert run.returncode == 0, run.log
    assert (tmp_path / "out" / "a.csv.out").read_bytes() == b"1,2\n3,4\n"
    [start] = starts(record)
    assert_all_gone([start["daemon"], start["launcher"]],
                    "the stage's daemon after tandem transform finished")


@pytest.mark.parametrize("kind", KINDS)
def test_daemon_listening_beyond_loopback_is_warned_about(tandem_factory, record, kind):
    tandem = tandem_factory({"name": "exposed", "stages": [
        daemonizing_stage("d", record, kind, ignores_sigterm=False, daemon_listens="0.0.0.0")]})
    [start] = wait_for_starts(record, 1)
    assert start["daemon_port"] > 0
    port = start["daemon_port"]
    tandem.wait_for_log(rf"stage 'd' \(container-1\) listens on 0\.0\.0\.0:{port}, reachable "
                        r"from other hosts")
