"""The stages' ports: each stage's SAGEMAKER_SAFE_PORT_RANGE is its own (no other stage's port,
not its own bind port) and stays with it across restarts, with real stages that bind the first
two ports of their safe range as AWS's TensorFlow Serving container does; back-to-back
transform jobs on a narrow stage_port_range; and the error when the range is truly full."""
from __future__ import annotations

import os
import re
import signal
import socket
import sys

from harness import HELPERS, next_port_range, wait_until
from transform_support import pipeline, run_transform

SAFE_STAGE = HELPERS / "safe_ports_stage.py"
STARTED = re.compile(r"stage '([^']+)' \(container-\d+\) started: pid (\d+), port (\d+), "
                     r"safe ports (\d+)-(\d+)")


def safe_stage(name: str, **knobs) -> dict:
    """helpers/safe_ports_stage.py; keyword arguments are its SAFE_STAGE_<KNOB> variables."""
    env = {"SAFE_STAGE_NAME": name, **{f"SAFE_STAGE_{k.upper()}": str(v) for k, v in knobs.items()}}
    return {"name": name, "command": [sys.executable, str(SAFE_STAGE), "serve"], "env": env}


def narrow_range(size: int) -> tuple[int, str]:
    """The first `size` ports of a block of the harness's own (no other test uses them)."""
    low = int(next_port_range().split("-")[0])
    return low, f"{low}-{low + size - 1}"


def launches(log: str) -> list[tuple[str, int, int, int, int]]:
    """(stage, pid, bind port, safe low, safe high) for every launch, in order."""
    return [(m[1], int(m[2]), int(m[3]), int(m[4]), int(m[5])) for m in STARTED.finditer(log)]


def latest(log: str) -> dict[str, tuple[int, int, int, int]]:
    return {name: rest for name, *rest in launches(log)}


def assert_disjoint(ports: dict[str, tuple[int, int, int, int]], size: int) -> None:
    """Every stage's safe range has `size` ports and holds no stage's bind port and no port of
    another stage's range."""
    taken: dict[int, str] = {}
    for name, (_, bind, low, high) in ports.items():
        assert high - low + 1 == size, ports
        for port in [bind, *range(low, high + 1)]:
            assert port not in taken, f"port {port} of {name} is also {taken[port]}'s: {ports}"
            taken[port] = name


def test_two_stages_that_bind_their_safe_ranges_run_side_by_side(tandem_factory):
    """Before: both stages got the whole range, so both bound its first two ports and the
    second could not start (and one alone failed when its bind port was one of them)."""
    tandem = tandem_factory({"name": "safe-ports", "stages": [safe_stage("a"), safe_stage("b")]})
    res = tandem.invoke(b"x", "text/plain")
    assert (res.status, res.body) == (200, b"x|a|b"), res
    ports = latest(tandem.log())
    assert set(ports) == {"a", "b"}
    assert_disjoint(ports, 4)
    assert "Address already in use" not in tandem.log()


def test_stages_keep_their_ports_across_20_restarts(tandem_factory):
    """Four stages that bind their safe ranges, killed together five times (20 restarts):
    each comes back healthy every time on the same bind port and safe range. Every answer
    closes its connection first, so the stage's port lingers in TIME_WAIT when it restarts:
    before, that made the restart move to another port."""
    names = ["a", "b", "c", "d"]
    tandem = tandem_factory({"name": "restarts", "stages": [safe_stage(n, close=1) for n in names]})
    first = latest(tandem.log())
    assert_disjoint(first, 4)
    for round_ in range(1, 6):
        res = tandem.invoke(b"x", "text/plain")
        assert (res.status, res.body) == (200, b"x|a|b|c|d"), (round_, res)
        pids = {name: pid for name, (pid, *_) in latest(tandem.log()).items()}
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        healthy_again = re.compile(r"stage '(\w)' \(container-\d+\) is healthy again on port (\d+)")
        wait_until(lambda: len(healthy_again.findall(tandem.log())) >= 4 * round_, 30,
                   f"the 4 stages healthy again in round {round_}")
        assert sorted(healthy_again.findall(tandem.log())[-4:]) == \
            [(n, str(first[n][1])) for n in names], round_
        now = latest(tandem.log())
        assert {n: p[1:] for n, p in now.items()} == {n: p[1:] for n, p in first.items()}, round_
        assert all(now[n][0] != pids[n] for n in names), round_
    tandem.wait_ping(200)
    res = tandem.invoke(b"y", "text/plain")
    assert (res.status, res.body) == (200, b"y|a|b|c|d"), res
    log = tandem.log()
    assert len(launches(log)) == 4 + 20
    assert "Address already in use" not in log
    assert "moves from port" not in log


def test_back_to_back_jobs_on_a_ten_port_range(tmp_path):
    """Eight short transform jobs in a row on 10 ports, each using all 10 (two stages of 5),
    with stages that close every connection first (gunicorn's sync worker does), so every job
    leaves its ports in TIME_WAIT. Before: the ports in TIME_WAIT counted as taken and the
    sixth job failed with "no free port in stage_port_range"."""
    _, ports = narrow_range(10)
    spec = pipeline(safe_stage("a", close=1, side_ports=0), safe_stage("b", close=1, side_ports=0),
                    name="nightly")
    spec["server"] = {"stage_port_range": ports}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.csv").write_bytes(b"1,2")
    for job in range(8):
        out = tmp_path / f"out-{job}"
        run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output", str(out))
        assert run.returncode == 0, f"job {job}: {run.log}"
        assert (out / "x.csv.out").read_bytes() == b"1,2|a|b", job
        assert_disjoint(latest(run.log), 4)


def listener(port: int, reuse_address: bool = True) -> socket.socket:
    sock = socket.socket()
    if reuse_address:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1)
    return sock


def leave_time_wait(port: int, reuse_address: bool) -> None:
    """A server on `port` that closes its connection first: its side lingers in TIME_WAIT."""
    with listener(port, reuse_address) as server, socket.create_connection(("127.0.0.1", port)) as client:
        served, _ = server.accept()
        served.close()
        assert client.recv(1) == b""


def test_a_full_range_says_what_holds_its_ports(tmp_path):
    """Two stages need 10 ports; the first gets the upper 5, the lower 5 have a listener, a
    TIME_WAIT no server can bind over, a reusable TIME_WAIT and two free ports: the error says
    so, port by port, for the second stage."""
    low, ports = narrow_range(10)
    leave_time_wait(low + 2, reuse_address=False)
    leave_time_wait(low + 3, reuse_address=True)
    with listener(low + 1):
        spec = pipeline(safe_stage("a", side_ports=0), safe_stage("b", side_ports=0), name="full")
        spec["server"] = {"stage_port_range": ports}
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "x.csv").write_bytes(b"1\n")
        run = run_transform(tmp_path, spec, "--input", str(tmp_path / "in"), "--output",
                            str(tmp_path / "out"))
    assert run.returncode != 0, run.log
    expected = (
        f"stage 'b' (container-2): no free block of 5 consecutive ports (its "
        f"SAGEMAKER_BIND_TO_PORT and a SAGEMAKER_SAFE_PORT_RANGE of 4) in stage_port_range "
        f"{ports}; of its 10 ports: 5 held by this tandem's stages ({low + 5}-{low + 9}), "
        f"1 listening ({low + 1}), 1 in TIME_WAIT from a socket without SO_REUSEADDR "
        f"({low + 2}), ")
    assert expected in run.log, run.log
    # The rest: the reusable TIME_WAIT made here, and the two ports left free, which a test
    # running beside this one may have left in a reusable TIME_WAIT too.
    rest = run.log[run.log.index(expected) + len(expected):].splitlines()[0]
    match = re.fullmatch(r"\d+ only in TIME_WAIT \(reusable\) \(([^)]*)\)"
                         r"(?:, \d+ free \(([^)]*)\))?", rest)
    assert match, rest
    reusable, free = (port_list(group or "") for group in match.groups())
    assert low + 3 in reusable, rest
    assert reusable | free == {low, low + 3, low + 4} and not reusable & free, rest


def port_list(text: str) -> set[int]:
    """"9000, 9002-9004" as {9000, 9002, 9003, 9004}."""
    ports: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        ports.update(range(int(first), int(last or first) + 1))
    return ports
