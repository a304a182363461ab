#!/usr/bin/python3
"""Chaos: stages SIGKILLed (and one SIGSTOPped) under the load of 16 connections.

For each pipeline, 16 client threads send invocations back to back on keep-alive connections
and classify every answer; a monitor polls GET /ping every 20 ms. Every few seconds, once the
endpoint is healthy, a random stage is SIGKILLed; once, halfway, a random stage is SIGSTOPped
for longer than its timeout_s (2 s) and then SIGCONTed. Then the chaos stops and the load goes
on for a while. Fault windows come from our own clock (the signal) and tandem's log (restart,
healthy again, unhealthy, passes /ping again), both wall-clock.

Checks, per pipeline:
- every answer is one of: 200 with the exact expected body; 424 ModelError naming a stage that
  was faulted at that moment (the request overlapped the stage's fault window), for a kill
  with a message from the stage's death; 503 ServiceUnavailable with Retry-After naming a
  stage that was down at that moment (tandem fails fast while a stage restarts). Anything else
  (a 424 naming a healthy stage, a wrong body, a connection error, a client timeout, another
  status) fails, with the first examples printed;
- no request takes longer than invocation_timeout_s (5 s) plus 1 s;
- /ping answers 503 throughout every kill's down time (from 0.25 s after the kill until the
  stage is healthy again) and 200 whenever no stage is down or unhealthy;
- after each restart, the first successful answer comes within 1 s of the stage being healthy
  again (long run only: no timed assertions in `make test`);
- the SIGSTOPped stage: requests on it fail with a timeout naming it; /ping turns 503 once the
  supervisor's liveness pings fail, and 200 again after SIGCONT;
- after the chaos, 100 % of answers are 200 with the expected body;
- tandem holds the same descriptors (sockets aside: pipes, pidfds, eventfds, memfds) after
  the chaos as before it, so no restart leaks one;
- tandem exits 0 on SIGTERM afterwards and no stage outlives it.

Usage: tests/reliability/chaos.py [--bin build/release/bin] [--duration 120]
       [--pipelines identity-http identity-shm breast-cancer] [--short] [--markdown-out FILE]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import (Checks, Pipeline, Tandem, default_bin, fd_kinds, finish, log_events, machine_line,
                    percentile, pipelines, table)

CONNECTIONS = 16
STAGE_TIMEOUT_S = 2
INVOCATION_TIMEOUT_S = 5


def with_timeouts(spec: str) -> str:
    """The spec with timeout_s on every stage and invocation_timeout_s on the server."""
    spec = re.sub(r"^(\s+)- name: (.*)$", lambda m: f"{m.group(1)}- name: {m.group(2)}\n"
                  f"{m.group(1)}  timeout_s: {STAGE_TIMEOUT_S}", spec, flags=re.M)
    return spec.replace("server:\n", f"server:\n  invocation_timeout_s: {INVOCATION_TIMEOUT_S}\n", 1)


@dataclass
class Outcome:
    start: float
    end: float
    kind: str            # ok, wrong-body, model-error, unavailable, status-N, connection-error, client-timeout
    status: int = 0
    stage: str = ""
    message: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start


class Load:
    """CONNECTIONS threads, each on its own keep-alive connection, until stopped."""

    def __init__(self, tandem: Tandem, pipeline: Pipeline, expected: bytes):
        self.tandem, self.pipeline, self.expected = tandem, pipeline, expected
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(CONNECTIONS)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> list[threading.Thread]:
        self.stopping.set()
        for t in self.threads:
            t.join(INVOCATION_TIMEOUT_S + 30)
        return [t for t in self.threads if t.is_alive()]

    def client(self) -> None:
        timeout = INVOCATION_TIMEOUT_S + 10
        conn = http.client.HTTPConnection(self.tandem.host, self.tandem.port, timeout=timeout)
        headers = {"Content-Type": self.pipeline.content_type}
        while not self.stopping.is_set():
            start = time.time()
            try:
                conn.request("POST", "/invocations", body=self.pipeline.body, headers=headers)
                res = conn.getresponse()
                body = res.read()
                outcome = self.classify(start, res, body)
            except socket.timeout as e:
                outcome = Outcome(start, time.time(), "client-timeout", message=repr(e))
                conn.close()
            except (OSError, http.client.HTTPException) as e:
                outcome = Outcome(start, time.time(), "connection-error", message=repr(e))
                conn.close()
            with self.lock:
                self.outcomes.append(outcome)
        conn.close()

    def classify(self, start: float, res: http.client.HTTPResponse, body: bytes) -> Outcome:
        end = time.time()
        if res.status == 200:
            return Outcome(start, end, "ok" if body == self.expected else "wrong-body", 200,
                           message=body[:200].decode(errors="replace"))
        error_type = res.getheader("x-amzn-ErrorType", "")
        try:
            fields = json.loads(body)
        except ValueError:
            fields = {}
        if res.status == 424 and error_type == "ModelError" and fields.get("Stage"):
            return Outcome(start, end, "model-error", 424, fields["Stage"], fields.get("OriginalMessage", ""))
        if res.status == 503 and error_type == "ServiceUnavailable" and res.getheader("Retry-After"):
            m = re.match(r"stage '([^']+)' \(container-\d+\) is ", fields.get("Message", ""))
            return Outcome(start, end, "unavailable", 503, m.group(1) if m else "", fields.get("Message", ""))
        return Outcome(start, end, f"status-{res.status}", res.status,
                       message=f"{error_type} {body[:300].decode(errors='replace')}")


class PingMonitor(threading.Thread):
    def __init__(self, tandem: Tandem, interval: float = 0.02):
        super().__init__(daemon=True)
        self.tandem, self.interval = tandem, interval
        self.samples: list[tuple[float, float, int]] = []  # (sent, answered, status; 0 = no answer)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            start = time.time()
            try:
                status = self.tandem.ping_status(timeout=5)
            except OSError:
                status = 0
            self.samples.append((start, time.time(), status))
            self.stopping.wait(self.interval)

    def latest(self) -> int:
        return self.samples[-1][2] if self.samples else 0


@dataclass
class Fault:
    kind: str         # kill or stop
    stage: str
    pid: int
    at: float         # the signal (SIGKILL, or SIGSTOP)
    until: float = 0  # SIGCONT (stop only)
    restarted: float | None = None   # the new process started (log)
    healthy: float | None = None     # healthy again / passes /ping again (log)
    unhealthy: float | None = None   # stop: failed 3 consecutive pings (log)
    first_ok: float | None = None    # first 200 answered after `healthy`
    failures: Counter = field(default_factory=Counter)

    def window(self, after: float) -> tuple[float, float]:
        """The time in which this fault may explain a failed request."""
        end = self.healthy if self.healthy is not None else float("inf")
        return self.at - 0.01, max(end, self.until) + after


def wait_log(tandem: Tandem, pattern: str, since: float, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [t for t, _ in log_events(tandem.log(), pattern) if t >= since - 0.005]
        if found:
            return found[0]
        time.sleep(0.02)
    return None


def run_chaos(tandem: Tandem, pipeline: Pipeline, args, monitor: PingMonitor) -> list[Fault]:
    faults: list[Fault] = []
    begin = time.monotonic()
    stopped_once = not args.sigstop
    rng = random.Random(args.seed)
    while time.monotonic() - begin < args.duration:
        if not tandem.wait_ping(200, 60):
            raise RuntimeError(f"/ping not 200 within 60 s of the last fault:\n{tandem.log_tail()}")
        time.sleep(rng.uniform(*args.gap))
        stage = rng.choice(pipeline.stages)
        pid = tandem.stage_pids()[stage]
        label = rf"stage '{re.escape(stage)}' \(container-\d+\)"
        if not stopped_once and time.monotonic() - begin >= args.duration / 2:
            stopped_once = True
            fault = Fault("stop", stage, pid, time.time())
            os.kill(pid, signal.SIGSTOP)
            time.sleep(args.stop_seconds)
            fault.until = time.time()
            os.kill(pid, signal.SIGCONT)
            fault.unhealthy = wait_log(tandem, label + r" failed \d+ consecutive pings", fault.at, 1)
            if fault.unhealthy is not None:
                fault.healthy = wait_log(tandem, label + r" passes /ping again", fault.at, 30)
            else:
                fault.healthy = fault.until
            print(f"  SIGSTOP {stage} (pid {pid}) for {args.stop_seconds:g} s", flush=True)
        else:
            fault = Fault("kill", stage, pid, time.time())
            os.kill(pid, signal.SIGKILL)
            fault.restarted = wait_log(tandem, label + r" started: pid", fault.at, 60)
            fault.healthy = wait_log(tandem, label + r" is healthy again", fault.at, 60)
            print(f"  SIGKILL {stage} (pid {pid}): healthy again after "
                  f"{(fault.healthy or float('nan')) - fault.at:.2f} s", flush=True)
        faults.append(fault)
    return faults


def analyse(pipeline: Pipeline, faults: list[Fault], outcomes: list[Outcome],
            pings: list[tuple[float, float, int]], chaos_end: float, args, checks: Checks) -> dict:
    key = pipeline.key
    by_stage: dict[str, list[Fault]] = {}
    for f in faults:
        by_stage.setdefault(f.stage, []).append(f)

    def owning_fault(o: Outcome) -> Fault | None:
        """The latest fault of the stage the answer names whose window the request overlapped."""
        owner = None
        for f in by_stage.get(o.stage, []):
            lo, hi = f.window(args.window_slack)
            if o.start <= hi and o.end >= lo:
                owner = f
        return owner

    classes: Counter = Counter()
    bad: list[Outcome] = []
    for o in outcomes:
        if o.kind == "ok":
            classes["200 with the expected body"] += 1
            continue
        fault = owning_fault(o) if o.kind in ("model-error", "unavailable") else None
        if fault is None:
            classes[f"unexplained {o.kind}" + (f" naming '{o.stage}'" if o.stage else "")] += 1
            bad.append(o)
            continue
        if o.kind == "model-error":
            if fault.kind == "stop":
                if "timeout" in o.message or "timed out" in o.message:
                    what = "timeout"
                elif re.search(r"max_inflight slots stayed busy", o.message):
                    what = "timeout waiting for one of its slots"
                else:
                    what = "other"
            elif re.search(r"shared-memory channel closed", o.message):
                what = "shm channel closed"
            elif re.search(r"closed|reset|refused|broken pipe|end of stream", o.message, re.I):
                what = "connection closed/reset/refused"
            else:
                what = "other"
            label = f"424 ModelError naming the {'SIGSTOPped' if fault.kind == 'stop' else 'killed'} stage ({what})"
        else:
            label = f"503 ServiceUnavailable naming the {'SIGSTOPped' if fault.kind == 'stop' else 'killed'} stage (fail fast while it is down)"
        classes[label] += 1
        fault.failures[label] += 1
        if fault.kind == "stop" and o.kind == "model-error" and not what.startswith("timeout"):
            bad.append(o)
    sample = "; ".join(f"{o.kind} {o.status} '{o.stage}' {o.message[:160]!r}" for o in bad[:5])
    checks.check(f"{key}: every failure is on the faulted stage, in its fault window", not bad,
                 f"{len(bad)} not" + (f": {sample}" if bad else ""))

    longest = max((o.duration for o in outcomes), default=0)
    checks.check(f"{key}: no request hangs past invocation_timeout_s ({INVOCATION_TIMEOUT_S} s) + 1 s",
                 longest <= INVOCATION_TIMEOUT_S + 1, f"longest {longest:.2f} s")

    # /ping: 503 throughout each kill's down time, 200 whenever nothing is down.
    down = [(f.at, f.healthy or float("inf")) for f in faults if f.kind == "kill"]
    unhealthy = [(f.unhealthy, f.healthy or float("inf")) for f in faults if f.kind == "stop" and f.unhealthy]
    stop_windows = [(f.at, (f.healthy or f.until)) for f in faults if f.kind == "stop"]
    wrong_while_down, wrong_while_up, detect = [], [], []
    for lo, hi in down:
        inside = [p for p in pings if p[0] >= lo + args.ping_slack and p[1] <= hi - 0.01]
        wrong_while_down += [p for p in inside if p[2] != 503]
        first_503 = next((p[1] for p in pings if p[1] >= lo and p[2] == 503), None)
        if first_503 is not None and first_503 <= hi + args.window_slack:
            detect.append(first_503 - lo)
    explained = [(lo, hi + args.window_slack) for lo, hi in down + unhealthy + stop_windows]
    for p in pings:
        if p[2] != 200 and not any(p[1] >= lo and p[0] <= hi for lo, hi in explained):
            wrong_while_up.append(p)
    checks.check(f"{key}: /ping 503 throughout every kill's down time", not wrong_while_down,
                 f"{len(wrong_while_down)} pings answered otherwise; first 503 "
                 f"{percentile(detect, 50) * 1000:.0f} ms (median), {max(detect, default=float('nan')) * 1000:.0f} ms "
                 f"(max) after the kill")
    checks.check(f"{key}: /ping 200 whenever no stage is down", not wrong_while_up,
                 f"{len(wrong_while_up)} of {len(pings)} pings were not"
                 + (f" (first at {wrong_while_up[0][0]:.3f}: {wrong_while_up[0][2]})" if wrong_while_up else ""))

    # Service back after each restart.
    oks = sorted(o.end for o in outcomes if o.kind == "ok")
    recovery = []
    for f in faults:
        if f.healthy is None:
            continue
        f.first_ok = next((t for t in oks if t >= f.healthy), None)
        if f.first_ok is not None and f.kind == "kill":
            recovery.append(f.first_ok - f.healthy)
    never = [f for f in faults if f.kind == "kill" and (f.healthy is None or f.first_ok is None)]
    checks.check(f"{key}: every killed stage restarted and served again", not never,
                 f"{len(never)} of {sum(f.kind == 'kill' for f in faults)} did not")
    seen = (f"first 200 after 'healthy again': median {percentile(recovery, 50) * 1000:.0f} ms, "
            f"max {max(recovery, default=float('nan')) * 1000:.0f} ms")
    if args.check_timing:
        checks.check(f"{key}: service back within 1 s of the restart", max(recovery, default=0) <= 1.0, seen)
    else:
        checks.note(f"{key}: service back after the restart (short run: not checked)", seen)

    stops = [f for f in faults if f.kind == "stop"]
    for f in stops:
        timeouts = f.failures.get("424 ModelError naming the SIGSTOPped stage (timeout)", 0)
        checks.check(f"{key}: requests on the SIGSTOPped stage time out naming it", timeouts > 0,
                     f"{timeouts} timed out")
        detected = f"after {f.unhealthy - f.at:.1f} s" if f.unhealthy else "not within the stop"
        seen = (f"/ping 503 {detected}; 200 again {((f.healthy or f.until) - f.until):.1f} s after SIGCONT")
        if args.check_stop_ping:
            checks.check(f"{key}: /ping reports the SIGSTOPped stage, then recovers",
                         f.unhealthy is not None and f.healthy is not None, seen)
        else:
            checks.note(f"{key}: /ping during the SIGSTOP ({args.stop_seconds:g} s, short run)", seen)

    after = [o for o in outcomes if o.start >= chaos_end]
    after_ok = sum(o.kind == "ok" for o in after)
    checks.check(f"{key}: 100 % success after the chaos", after and after_ok == len(after),
                 f"{after_ok} of {len(after)}")
    return {"classes": classes, "recovery": recovery, "detect": detect, "longest": longest,
            "after": (after_ok, len(after))}


def chaos(pipeline: Pipeline, args, work: Path, checks: Checks) -> tuple[list[list[str]], list[list[str]]]:
    print(f"\n== chaos: {pipeline.title}, {args.duration:g} s", flush=True)
    tandem = Tandem(args.bin, with_timeouts(pipeline.spec), work, f"chaos-{pipeline.key}")
    try:
        tandem.wait_serving()
        conn = http.client.HTTPConnection(tandem.host, tandem.port, timeout=30)
        conn.request("POST", "/invocations", body=pipeline.body, headers={"Content-Type": pipeline.content_type})
        res = conn.getresponse()
        expected = res.read()
        conn.close()
        if not checks.check(f"{pipeline.key}: first answer", res.status == 200 and
                            (pipeline.expected is None or expected == pipeline.expected),
                            f"{res.status} {expected[:80]!r}"):
            return [], []
        fds_before = fd_kinds(tandem.pid)
        monitor = PingMonitor(tandem)
        monitor.start()
        load = Load(tandem, pipeline, expected)
        load.start()
        try:
            time.sleep(args.warm)
            faults = run_chaos(tandem, pipeline, args, monitor)
            if not tandem.wait_ping(200, 60):
                raise RuntimeError(f"/ping not 200 within 60 s after the chaos:\n{tandem.log_tail()}")
            chaos_end = time.time()
            time.sleep(args.after)
        finally:
            hung = load.stop()
            monitor.stopping.set()
            monitor.join()
        checks.check(f"{pipeline.key}: every client thread finished", not hung, f"{len(hung)} hung")
        fds_after = fd_kinds(tandem.pid)
        fds_after.pop("socket", None)
        fds_before.pop("socket", None)
        checks.check(f"{pipeline.key}: no descriptor leaked by the restarts (sockets aside)",
                     fds_after == fds_before,
                     f"{sum(fds_before.values())} before the chaos, {sum(fds_after.values())} after"
                     + ("" if fds_after == fds_before else f": {dict(fds_before)} → {dict(fds_after)}"))
    finally:
        code = tandem.stop()
    checks.check(f"{pipeline.key}: exit on SIGTERM", code == 0, f"exit status {code}")
    checks.check(f"{pipeline.key}: no stage outlives tandem", not tandem.stages_left(),
                 f"left: {tandem.stages_left()}")
    result = analyse(pipeline, faults, load.outcomes, monitor.samples, chaos_end, args, checks)

    kills = [f for f in faults if f.kind == "kill"]
    downtime = [f.healthy - f.at for f in kills if f.healthy]
    restart_to_healthy = [f.healthy - f.restarted for f in kills if f.healthy and f.restarted]
    summary = [[pipeline.key, str(len(load.outcomes)), str(len(kills)), str(len(faults) - len(kills)),
                f"{percentile(downtime, 50):.2f} / {max(downtime, default=float('nan')):.2f}",
                f"{percentile(restart_to_healthy, 50) * 1000:.0f} / {max(restart_to_healthy, default=float('nan')) * 1000:.0f}",
                f"{percentile(result['detect'], 50) * 1000:.0f} / {max(result['detect'], default=float('nan')) * 1000:.0f}",
                f"{percentile(result['recovery'], 50) * 1000:.0f} / {max(result['recovery'], default=float('nan')) * 1000:.0f}",
                f"{result['longest']:.2f}", f"{result['after'][0]} / {result['after'][1]}"]]
    classes = [[pipeline.key, name, str(n)] for name, n in sorted(result["classes"].items(), key=lambda x: -x[1])]
    return summary, classes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", type=Path, default=default_bin())
    parser.add_argument("--duration", type=float, default=120, help="seconds of chaos per pipeline")
    parser.add_argument("--after", type=float, default=15, help="seconds of load after the chaos")
    parser.add_argument("--warm", type=float, default=3, help="seconds of load before the chaos")
    parser.add_argument("--gap", type=float, nargs=2, default=[2.0, 4.0],
                        help="seconds between recovery and the next kill (uniform)")
    parser.add_argument("--stop-seconds", type=float, default=12,
                        help="how long one stage stays SIGSTOPped (its timeout_s is 2)")
    parser.add_argument("--pipelines", nargs="+", default=["identity-http", "identity-shm", "breast-cancer"])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--short", action="store_true",
                        help="the `make test` version: 12 s of chaos on the identity pipelines, "
                             "a 4 s SIGSTOP, no timing checks")
    parser.add_argument("--markdown-out", help="append the results (markdown) to this file")
    args = parser.parse_args()
    args.bin = args.bin.resolve()
    args.sigstop = True
    args.check_timing = args.check_stop_ping = not args.short
    args.window_slack, args.ping_slack = 0.5, 0.25
    if args.short:
        args.duration, args.after, args.warm, args.gap, args.stop_seconds = 12, 4, 1, [1.0, 2.0], 4
        args.pipelines = [p for p in args.pipelines if p != "breast-cancer"]
        args.window_slack, args.ping_slack = 2.0, 1.0
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    print(f"seed {args.seed}", flush=True)
    checks = Checks()
    summary, classes = [], []
    started = machine_line()
    with tempfile.TemporaryDirectory(prefix="tandem-chaos-") as tmp:
        for pipeline in pipelines(args.pipelines):
            try:
                s, c = chaos(pipeline, args, Path(tmp), checks)
                summary += s
                classes += c
            except RuntimeError as e:
                checks.check(f"{pipeline.key}: run", False, str(e).replace("\n", " ")[:800])
    report = [
        f"Chaos: {CONNECTIONS} connections; a random stage SIGKILLed {args.gap[0]:g}-{args.gap[1]:g} s after "
        f"each recovery for {args.duration:g} s, one SIGSTOPped for {args.stop_seconds:g} s halfway "
        f"(timeout_s {STAGE_TIMEOUT_S}, invocation_timeout_s {INVOCATION_TIMEOUT_S}), then {args.after:g} s "
        f"of load; seed {args.seed}; {args.bin}; started {started}, ended {machine_line()}",
        table(["pipeline", "requests", "kills", "SIGSTOPs", "down s (median / max)",
               "start → healthy ms (median / max)", "kill → /ping 503 ms (median / max)",
               "healthy → first 200 ms (median / max)", "longest request s", "200 after the chaos"], summary),
        table(["pipeline", "answer class", "count"], classes)]
    return finish(checks, report, args.markdown_out)


if __name__ == "__main__":
    sys.exit(main())
