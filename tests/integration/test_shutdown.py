"""SIGTERM drains in-flight invocations, reports unhealthy, stops the stages and exits 0;
stages never outlive tandem, even when it is SIGKILLed."""
import signal
import socket
import threading

from harness import (flask_stage, group_members, identity, logging_stage, pid_alive,
                     read_response, wait_until)


def test_sigterm_drains_in_flight_request(tandem_factory):
    tandem = tandem_factory({"name": "drain-it", "server": {"drain_timeout_s": 20}, "stages": [
        identity("first", append="|first"),
        logging_stage("slow", delay_ms=2000, env={"LOGGING_STAGE_APPEND": "|slow"}),
    ]})
    pids = tandem.stage_pids()
    # A keep-alive connection opened before SIGTERM, to ask /ping during the drain.
    probe = tandem.connection(timeout=10)
    probe.request("GET", "/ping")
    assert read_response(probe).status == 200

    result = {}

    def slow_call():
        result["res"] = tandem.invoke(b"in-flight", "text/plain", timeout=30)

    caller = threading.Thread(target=slow_call)
    caller.start()
    tandem.wait_for_log(r"slow \| received invocation 1")
    tandem.proc.send_signal(signal.SIGTERM)
    tandem.wait_for_log(r"received SIGTERM; shutting down")
    tandem.wait_for_log(r"draining: /ping now fails, no new connections; waiting up to 20 s for "
                        r"1 in-flight invocation\(s\)")

    probe.request("GET", "/ping")
    ping = read_response(probe)
    assert ping.status == 503, ping
    assert ping.body == b'{"reason":"shutting down","status":"Unhealthy"}\n'
    assert ping.header("Connection") == "close"
    probe.close()
    # No new connections while draining.
    try:
        with socket.create_connection((tandem.host, tandem.port), timeout=2):
            refused = False
    except ConnectionRefusedError:
        refused = True
    assert refused, "tandem still accepts connections while draining"

    caller.join(30)
    res = result["res"]
    assert (res.status, res.body) == (200, b"in-flight|first|slow"), res
    assert res.elapsed_s > 1.5
    assert tandem.wait_exit(30) == 0, tandem.log_tail()
    log = tandem.log()
    assert "still in flight after drain_timeout_s" not in log
    assert log.rstrip().endswith("endpoint 'drain-it' stopped"), log[-500:]
    for pid in pids.values():
        assert not pid_alive(pid)
    # The in-flight request finished before the stages were stopped.
    assert log.index("slow | answered invocation 1") < log.index("stage 'slow' (container-2) stopped")


def test_sigterm_gives_up_after_drain_timeout(tandem_factory):
    tandem = tandem_factory({"name": "drain-timeout", "server": {"drain_timeout_s": 0.5},
                             "stages": [logging_stage("stuck", delay_ms=5000)]})
    result = {}
    caller = threading.Thread(
        target=lambda: result.setdefault("res", _invoke_or_error(tandem)))
    caller.start()
    tandem.wait_for_log(r"stuck \| received invocation 1")
    tandem.proc.send_signal(signal.SIGTERM)
    tandem.wait_for_log(r"1 invocation\(s\) still in flight after drain_timeout_s; stopping anyway")
    assert tandem.wait_exit(30) == 0, tandem.log_tail()
    caller.join(30)
    # Cut off: no answer, or the 424 of a stage stopped under it; never a 200.
    res = result["res"]
    assert isinstance(res, OSError) or res.status == 424, res


def _invoke_or_error(tandem):
    try:
        return tandem.invoke(b"x", "text/plain", timeout=30)
    except OSError as e:  # the connection may be cut when tandem exits
        return e


def test_sigint_stops_like_sigterm(tandem_factory):
    tandem = tandem_factory({"name": "sigint", "stages": [identity("a"), identity("b")]})
    pids = tandem.stage_pids()
    # An idle keep-alive client connection does not hold the exit up.
    idle = tandem.connection()
    idle.request("GET", "/ping")
    assert read_response(idle).status == 200
    tandem.proc.send_signal(signal.SIGINT)
    assert tandem.wait_exit(30) == 0
    idle.close()
    log = tandem.log()
    assert "received SIGINT; shutting down" in log
    # Each stage stopped on SIGTERM, on its own.
    assert "stage 'a' (container-1) stopped (exited with status 0)" in log
    assert "stage 'b' (container-2) stopped (exited with status 0)" in log
    assert not any(pid_alive(p) for p in pids.values())


def test_stage_ignoring_sigterm_is_killed_after_stage_stop_timeout(tandem_factory):
    tandem = tandem_factory({"name": "stubborn", "server": {"stage_stop_timeout_s": 0.5},
                             "stages": [logging_stage("stubborn", env={
                                 "LOGGING_STAGE_IGNORE_SIGTERM": 1})]})
    pid = tandem.stage_pids()["stubborn"]
    tandem.proc.send_signal(signal.SIGTERM)
    assert tandem.wait_exit(30) == 0
    log = tandem.log()
    assert "stubborn | ignoring SIGTERM" in log
    assert ("stage 'stubborn' (container-1) did not stop within 0.5 s of SIGTERM; sending "
            "SIGKILL") in log
    assert "stage 'stubborn' (container-1) stopped (was killed by signal 9 (SIGKILL))" in log
    assert not pid_alive(pid)


def test_sigterm_during_start_up_exits_0(tandem_factory):
    tandem = tandem_factory.launch({"name": "early-stop", "stages": [
        identity("sleepy", startup_delay_ms=10000)]})
    tandem.wait_for_log(r"stage 'sleepy' \(container-1\) started: pid \d+")
    tandem.proc.send_signal(signal.SIGTERM)
    assert tandem.wait_exit(30) == 0, tandem.log_tail()
    assert "serving on" not in tandem.log()


def test_no_orphans_after_sigkill(tandem_factory):
    """PR_SET_PDEATHSIG: stages die with tandem; the Flask stage's gunicorn workers too."""
    tandem = tandem_factory({"name": "orphans", "stages": [
        identity("a"),
        flask_stage("flask"),
        logging_stage("py"),
    ]})
    assert tandem.invoke(b"a,b", "text/csv").status == 200
    pids = tandem.stage_pids()
    groups = {name: group_members(pid) for name, pid in pids.items()}
    assert all(groups.values()), groups
    tandem.expected_exit = None
    tandem.proc.kill()
    tandem.proc.wait(10)

    def survivors():
        return {name: group_members(pid) for name, pid in pids.items() if group_members(pid)}

    wait_until(lambda: not survivors(), 10,
               lambda: f"the stage processes (by process group, at the kill: {groups}) to die after "
               f"tandem was SIGKILLed; still alive: {survivors()}")
