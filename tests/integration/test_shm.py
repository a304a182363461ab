"""`transport: shm`: chains of SDK stages reached through shared memory, alone and mixed with
HTTP stages; a stage killed mid-request under load, one that never answers, one that does not
speak shm; and the segments' lifetime: private to tandem and its stage, replaced on restart,
gone after shutdown."""
import os
import re
import signal
import subprocess
import threading
from pathlib import Path

from harness import (assert_error, assert_server_timing, identity, logging_stage, pid_alive,
                     wait_until)

SHM = {"transport": "shm"}
MEMFD = "/memfd:tandem-shm"


def shm_identity(name, spec=None, **knobs):
    return identity(name, spec={**SHM, **(spec or {})}, **knobs)


def memfd_inodes_open_by(pid: int) -> dict[int, int]:
    """{inode: fd} of the tandem segments `pid` holds a descriptor of."""
    found = {}
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in entries:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(MEMFD):
                found[os.stat(f"/proc/{pid}/fd/{fd}").st_ino] = int(fd)
        except OSError:
            continue
    return found


def memfd_inodes_mapped_by(pid: int) -> set[int]:
    inodes = set()
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith(MEMFD):
                inodes.add(int(fields[4]))
    return inodes


def test_shm_chain_carries_bodies_and_headers(tandem_factory):
    tandem = tandem_factory({"name": "shm-chain", "stages": [
        shm_identity("a", append="|a", content_type="text/csv; charset=utf-8",
                     custom_attributes="from-a"),
        shm_identity("b", append="|b"),
        shm_identity("c", echo_headers=1, custom_attributes="from-c"),
    ]})
    for name in ("a", "b", "c"):
        tandem.wait_for_log(rf"{name} \| stage serving shared memory \(8 slots\)")
    res = tandem.invoke(b"1,2,3", "text/plain", headers={
        "Accept": "application/json",
        "X-Amzn-SageMaker-Custom-Attributes": "trace=1",
        "X-Amzn-SageMaker-Inference-Id": "inf-shm",
    })
    assert res.status == 200, res
    assert res.header("Content-Type") == "application/json"
    assert res.header("X-Amzn-SageMaker-Custom-Attributes") == "from-c"
    assert_server_timing(res, ["a", "b", "c"])
    # c saw b's body and a's Content-Type verbatim (b answers with what it received), the
    # client's Accept (c is last), the client's custom attributes and inference id.
    assert res.json() == {"body": "1,2,3|a|b", "content_type": "text/csv; charset=utf-8",
                          "accept": "application/json", "custom_attributes": "trace=1",
                          "inference_id": "inf-shm"}


def test_binary_bodies_cross_shm_byte_for_byte(tandem_factory):
    tandem = tandem_factory({"name": "shm-bytes", "stages": [
        shm_identity("a"), shm_identity("b"),
    ]})
    for size in (0, 1, 1024, 65536, 1 << 20):
        body = os.urandom(size)
        res = tandem.invoke(body, "application/octet-stream")
        assert (res.status, res.body) == (200, body), (size, res.status)


def test_mixed_chain_of_http_and_shm_stages(tandem_factory):
    tandem = tandem_factory({"name": "shm-mixed", "stages": [
        identity("h1", append="|h1", content_type="application/x-h1"),
        shm_identity("s2", append="|s2"),
        identity("h3", append="|h3"),
        shm_identity("s4", echo_headers=1),
    ]})
    res = tandem.invoke(b"x", "text/plain", headers={"X-Amzn-SageMaker-Inference-Id": "mix"})
    assert res.status == 200, res
    assert_server_timing(res, ["h1", "s2", "h3", "s4"])
    assert res.json() == {"body": "x|h1|s2|h3", "content_type": "application/x-h1",
                          "accept": "", "custom_attributes": "", "inference_id": "mix"}


def test_stage_error_status_over_shm_is_a_model_error(tandem_factory):
    tandem = tandem_factory({"name": "shm-error", "stages": [
        shm_identity("first", append="|1"),
        shm_identity("second", fail_status=415),
        identity("third"),
    ]})
    res = tandem.invoke(b"x", "text/plain")
    assert_error(res, 424, "ModelError",
                 'Received client error (415) from container-2 (stage \'second\') with message '
                 '"identity stage failing with status 415". See the log of endpoint \'shm-error\', '
                 "lines prefixed 'second |' for more information.",
                 OriginalStatusCode=415, Stage="second", Container="container-2")
    assert_server_timing(res, ["first", "second"])


def test_stage_sigkilled_mid_request_under_load(tandem_factory):
    """Eight clients keep b's eight slots busy (each call takes 100 ms). SIGKILL b: the requests
    in flight in b fail with a 424 naming it, at most one per slot; none hangs; the supervisor
    restarts b with a new segment and every request succeeds again."""
    tandem = tandem_factory({"name": "shm-kill", "stages": [
        shm_identity("a", append="|a"),
        shm_identity("b", delay_ms=100, append="|b"),
    ]})
    old_pid = tandem.stage_pids()["b"]
    results: list[tuple[int, bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int):
        while not stop.is_set():
            res = tandem.invoke(f"{n}".encode(), "text/plain", timeout=30)
            with lock:
                results.append((res.status, res.body, res))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(results) >= 16, 30, "16 answers under load")
        os.kill(old_pid, signal.SIGKILL)
        tandem.wait_for_log(r"stage 'b' \(container-2\) was killed by signal 9 \(SIGKILL\)")
        tandem.wait_for_log(r"stage 'b' \(container-2\) is healthy again on port \d+")
        settled = len(results)
        wait_until(lambda: len(results) >= settled + 16, 30, "16 answers after the restart")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not any(t.is_alive() for t in threads), "a client hung"

    failed = [r for s, _, r in results if s == 424]
    # The requests b held when it died (at most one per slot), then any that reached its
    # closed channel before tandem saw it exit: those say they were never sent.
    killed = [r for r in failed if b"was not sent to it" not in r.body]
    assert 1 <= len(killed) <= 8, [r for _, _, r in results if r.status != 200]
    for res in failed:
        body = assert_error(
            res, 424, "ModelError",
            re.compile(r"Received server error \(0\) from container-2 \(stage 'b'\) with message "
                       r'"[^"]+"\. See the log of endpoint \'shm-kill\', lines prefixed '
                       r"'b \|' for more information\."),
            Stage="b", Container="container-2", OriginalStatusCode=0)
        assert re.fullmatch(r"the stage exited before answering \(its shared-memory channel "
                            r"closed\)(; this request was not sent to it)?"
                            r"(; stage 'b' \(container-2\) is down.*)?",
                            body["OriginalMessage"]), body
    for status, body, res in results:
        assert status in (200, 424, 503), res
        if status == 200:
            assert re.fullmatch(rb"\d\|a\|b", body), res
    # Every request after the restart succeeded.
    assert all(s == 200 for s, _, _ in results[settled + 8:]), results[settled + 8:]
    new_pid = tandem.stage_pids()["b"]
    assert new_pid != old_pid and not pid_alive(old_pid)


def test_stage_that_never_answers_times_out(tandem_factory):
    tandem = tandem_factory({"name": "shm-slow", "stages": [
        shm_identity("slow", delay_ms=5000, spec={"timeout_s": 0.3, "max_inflight": 1}),
    ]})
    res = tandem.invoke(b"x", "text/plain")
    body = assert_error(
        res, 424, "ModelError",
        re.compile(r"Received server error \(0\) from container-1 \(stage 'slow'\) .*"),
        Stage="slow", OriginalStatusCode=0)
    assert re.fullmatch(r"timed out waiting for the response after 0\.\d{3} s \(timeout_s 0\.3 s, "
                        r"invocation_timeout_s 60 s\)", body["OriginalMessage"]), body
    # Its only slot is still held by the stage: the next request waits for it, up to its own
    # deadline, instead of reusing memory the stage may still write.
    res = tandem.invoke(b"y", "text/plain")
    body = assert_error(res, 424, "ModelError", re.compile(r".*"), Stage="slow")
    assert body["OriginalMessage"].startswith(
        "timed out waiting for a free shared-memory slot"), body


def test_stage_that_does_not_speak_shm_fails_fast(tandem_factory):
    tandem = tandem_factory({"name": "shm-python", "stages": [
        logging_stage("py", transport="shm"),
    ]})
    res = tandem.invoke(b"x", "text/plain")
    body = assert_error(res, 424, "ModelError", re.compile(r".*"), Stage="py")
    assert body["OriginalMessage"] == (
        "the stage has not attached to its shared-memory segment (transport: shm needs a stage "
        "built on the stage SDK, or one that implements docs/shm.md)")


def test_segments_are_private_replaced_on_restart_and_gone_after_shutdown(tandem_factory):
    tandem = tandem_factory({"name": "shm-life", "stages": [
        shm_identity("a", spec={"startup_timeout_s": 30}), shm_identity("b"),
    ]})
    pids = tandem.stage_pids()
    tandem_pid = tandem.proc.pid
    held = {name: memfd_inodes_open_by(pid) for name, pid in pids.items()}
    assert all(len(h) == 1 for h in held.values()), held
    inodes = {name: next(iter(h)) for name, h in held.items()}
    # tandem maps both segments but keeps no descriptor of them.
    assert memfd_inodes_mapped_by(tandem_pid) == set(inodes.values())
    assert memfd_inodes_open_by(tandem_pid) == {}
    # No name in the file system: nothing new in /dev/shm, and another user cannot open the
    # segment through the stage's descriptor table.
    assert not [p for p in Path("/dev/shm").iterdir() if "tandem" in p.name]
    fd = held["a"][inodes["a"]]
    if os.geteuid() == 0:
        probe = subprocess.run(
            ["/usr/bin/python3", "-c", f"open('/proc/{pids['a']}/fd/{fd}', 'rb')"],
            user=65534, group=65534, capture_output=True, text=True)
        assert probe.returncode != 0 and "PermissionError" in probe.stderr, probe

    # A restart gets a new segment; tandem unmaps the old one.
    os.kill(pids["a"], signal.SIGKILL)
    tandem.wait_for_log(r"stage 'a' \(container-1\) is healthy again on port \d+")
    new_a = tandem.stage_pids()["a"]
    new_held = memfd_inodes_open_by(new_a)
    assert len(new_held) == 1 and inodes["a"] not in new_held, new_held
    wait_until(lambda: memfd_inodes_mapped_by(tandem_pid) == {*new_held, inodes["b"]}, 10,
               lambda: f"tandem to map only the live segments, not {memfd_inodes_mapped_by(tandem_pid)}")
    res = tandem.invoke(b"after", "text/plain")
    assert (res.status, res.body) == (200, b"after"), res

    assert tandem.terminate() == 0
    every = {*inodes.values(), *new_held}
    leftovers = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            leftovers += [(entry, i) for i in memfd_inodes_open_by(int(entry)) if i in every]
    assert leftovers == [], leftovers
