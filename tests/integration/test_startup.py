"""Start-up: stages that fail to start make `tandem serve` exit 1 with a message naming the
stage, what happened and its last lines; `tandem validate` and `serve` reject a bad spec with
exit status 2 and every error."""
import re
import subprocess
from pathlib import Path

import pytest

from harness import identity, pid_alive, process_env, tandem_exe, wait_until, write_spec

EXIT_TIMEOUT_S = 30


def failed_start(tandem_factory, spec: dict) -> tuple[int, str]:
    tandem = tandem_factory.launch(spec)
    tandem.expected_exit = None
    code = tandem.wait_exit(EXIT_TIMEOUT_S)
    log = tandem.log()
    assert "serving on" not in log, log
    # Whatever was started has been stopped.
    pids = tandem.stage_pids()
    wait_until(lambda: not any(pid_alive(p) for p in pids.values()), 10,
               f"stage processes {pids} to be gone")
    return code, log


def start_failure_message(log: str) -> str:
    """The `start-up failed: ...` log entry with its continuation lines."""
    match = re.search(r"ERROR start-up failed: (.*(?:\n    \|.*)*)", log)
    assert match, f"no 'start-up failed' line in:\n{log}"
    return match.group(1)


def test_stage_that_exits_at_start(tandem_factory):
    code, log = failed_start(tandem_factory, {"name": "start-fail", "stages": [
        identity("good"), identity("bad", fail_start=1)]})
    assert code == 1, log
    assert start_failure_message(log) == (
        "stage 'bad' (container-2) exited with status 2 during start-up; its last lines:\n"
        "    | identity: failing at start-up as asked")


# A program that cannot be run is a spec error, found before any stage starts: `validate` and
# `serve` say which stage, where its command is in the spec and where tandem looked.
@pytest.mark.parametrize("command", ["validate", "serve"])
def test_missing_program(tmp_path, command):
    spec = {"name": "no-program", "stages": [
        identity("good"), {"name": "ghost", "command": [str(tmp_path / "no-such-stage"), "serve"]}]}
    write_spec(tmp_path, spec)
    port = ["--port", "0"] if command == "serve" else []
    result = run_tandem(command, "pipeline.yaml", *port, cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr == (
        f"pipeline.yaml:9:3: stages[1].command: stage 'ghost': cannot run "
        f"'{tmp_path / 'no-such-stage'}': no such file\n"
        "pipeline.yaml: 1 error(s)\n")


def test_program_not_on_path(tmp_path):
    write_spec(tmp_path, {"name": "no-program", "stages": [
        {"name": "ghost", "command": ["tandem-no-such-stage", "serve"]}]})
    result = run_tandem("validate", "pipeline.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    bin_dir = tandem_exe().resolve().parent
    assert result.stderr == (
        "pipeline.yaml:5:3: stages[0].command: stage 'ghost': cannot run "
        f"'tandem-no-such-stage': not found in {bin_dir}, {bin_dir.parent / 'libexec/tandem'}, "
        "PATH\npipeline.yaml: 1 error(s)\n")


def test_program_not_executable(tmp_path):
    script = tmp_path / "stage.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    write_spec(tmp_path, {"name": "no-exec", "stages": [{"name": "noexec", "command": [str(script)]}]})
    result = run_tandem("validate", "pipeline.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stderr == (
        f"pipeline.yaml:5:3: stages[0].command: stage 'noexec': cannot run '{script}': "
        "not executable (no execute permission)\npipeline.yaml: 1 error(s)\n")


def test_builtin_stages_found_without_path(tmp_path):
    """`tandem-*` commands resolve beside the running tandem, with nothing of tandem's on PATH
    (the README's tour runs build/release/bin/tandem from a fresh shell)."""
    write_spec(tmp_path, {"name": "good", "stages": [identity("a"), {
        "name": "b", "command": ["sh", "-c", "exit 0"]}]})
    result = run_tandem("validate", "pipeline.yaml", cwd=tmp_path, path="/usr/bin:/bin")
    assert result.returncode == 0, result
    bin_dir = tandem_exe().resolve().parent
    assert result.stdout == (
        "pipeline.yaml: ok: endpoint 'good', 2 stage(s): a b\n"
        f"  a: tandem-identity -> {bin_dir / 'tandem-identity'} (beside tandem)\n"
        "  b: sh -> /usr/bin/sh (PATH)\n")


def test_builtin_stages_run_without_path(tandem_factory):
    """The same pipeline serves with a PATH that does not hold tandem's folder."""
    tandem = tandem_factory({"name": "no-path", "stages": [identity("a"), identity("b")]},
                            env={"PATH": "/usr/bin:/bin"})
    response = tandem.invoke(b"hello")
    assert response.status == 200, response
    assert response.body == b"hello"


def test_missing_working_dir(tandem_factory, tmp_path):
    code, log = failed_start(tandem_factory, {"name": "no-dir", "stages": [
        identity("lost", spec={"working_dir": str(tmp_path / "gone")})]})
    assert code == 1, log
    assert start_failure_message(log) == (
        f"stage 'lost' (container-1): cannot enter working_dir '{tmp_path / 'gone'}': "
        "No such file or directory")


def test_never_healthy_stage(tandem_factory):
    code, log = failed_start(tandem_factory, {"name": "sick", "stages": [
        identity("sick", ping_status=500, spec={"startup_timeout_s": 1})]})
    assert code == 1, log
    first, *tail = start_failure_message(log).split("\n")
    assert first == ("stage 'sick' (container-1) did not answer GET /ping with 200 within 1 s "
                     "(startup_timeout_s; last attempt: GET /ping answered 500); its last lines:")
    assert re.fullmatch(r"    \| stage listening on 127\.0\.0\.1:\d+", tail[0]), tail
    assert tail[-1] == "    | stage: /ping answered 500: stage is not healthy", tail
    assert len(tail) <= 20, tail  # the last 20 lines


def test_stage_output_is_logged_with_its_name(tandem_factory):
    tandem = tandem_factory({"name": "output", "stages": [identity("talker")]})
    port = tandem.stage_ports()["talker"]
    tandem.wait_for_log(rf"INFO  talker \| stage listening on 127\.0\.0\.1:{port}\n")
    tandem.wait_for_log(r"stage 'talker' \(container-1\) is healthy on port "
                        rf"{port} after \d+\.\d\d s")


# --- the spec ---------------------------------------------------------------------------

BAD_SPEC = """\
name: bad_name
mode: sequential
server:
  max_payload_mb: big
  stage_port_range: "9000"
stages:
  - name: a
    command: tandem-identity serve
    timout_s: 5
  - command: [tandem-identity]
    max_inflight: 0
"""


def expected_errors(path: str) -> str:
    return "\n".join([
        f'{path}:1:7: name: "bad_name" is not a valid name; use 1 to 63 letters, digits and '
        f"hyphens, starting and ending with a letter or digit",
        f'{path}:2:7: mode: expected one of serial, direct, got "sequential"',
        f'{path}:4:19: server.max_payload_mb: expected a positive number of megabytes, got "big"',
        f'{path}:5:21: server.stage_port_range: expected a port range "LOW-HIGH" such as '
        f'"9000-9999", got "9000"',
        f"{path}:8:14: stages[0].command: expected a list of strings (the program and its "
        f'arguments), got the string "tandem-identity serve"; write it as a list: '
        f"[tandem-identity, serve]",
        f'{path}:9:5: stages[0].timout_s: unknown key; did you mean "timeout_s"?',
        f"{path}:10:5: stages: either every stage has a name or none does; stages[1] "
        f"(container-2) has no name",
        f"{path}:11:19: stages[1].max_inflight: must be between 1 and 1024, got 0",
        f"{path}: 8 error(s)",
    ]) + "\n"


def run_tandem(*args, cwd, exe: Path | None = None,
               path: str | None = None) -> subprocess.CompletedProcess:
    """`exe` (this build's tandem by default) with `args`; `path` replaces PATH."""
    env = process_env() if path is None else process_env(PATH=path)
    return subprocess.run([str(exe or tandem_exe()), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60)


@pytest.mark.parametrize("command", ["validate", "serve"])
def test_bad_spec_exits_2_with_every_error(tmp_path, command):
    write_spec(tmp_path, BAD_SPEC, "bad.yaml")
    result = run_tandem(command, "bad.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr == expected_errors("bad.yaml")


def test_validate_ok(tmp_path):
    write_spec(tmp_path, {"name": "good", "stages": [identity("a"), identity("b")]}, "good.yaml")
    result = run_tandem("validate", "good.yaml", cwd=tmp_path)
    assert result.returncode == 0, result
    bin_dir = tandem_exe().resolve().parent
    assert result.stdout == (
        "good.yaml: ok: endpoint 'good', 2 stage(s): a b\n"
        f"  a: tandem-identity -> {bin_dir / 'tandem-identity'} (beside tandem)\n"
        f"  b: tandem-identity -> {bin_dir / 'tandem-identity'} (beside tandem)\n")
    assert result.stderr == ""


def test_validate_missing_file(tmp_path):
    result = run_tandem("validate", "absent.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stderr == ("absent.yaml: cannot read the spec: No such file or directory\n"
                             "absent.yaml: 1 error(s)\n")


def test_installed_tandem_finds_its_stages(tmp_path):
    """After `cmake --install`, the installed tandem runs its own stages: beside it in
    PREFIX/bin, or in PREFIX/libexec/tandem, with nothing of tandem's on PATH."""
    prefix = tmp_path / "prefix"
    build = tandem_exe().resolve().parent.parent
    install = subprocess.run(["cmake", "--install", str(build), "--prefix", str(prefix)],
                             capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install
    libexec = prefix / "libexec" / "tandem"
    libexec.mkdir(parents=True)
    (prefix / "bin" / "tandem-postprocess").rename(libexec / "tandem-postprocess")
    write_spec(tmp_path, {"name": "installed", "stages": [
        {"name": "a", "command": ["tandem-identity", "serve"]},
        {"name": "b", "command": ["tandem-postprocess", "serve"]}]})
    result = run_tandem("validate", "pipeline.yaml", cwd=tmp_path, exe=prefix / "bin" / "tandem",
                        path="/usr/bin:/bin")
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout == (
        "pipeline.yaml: ok: endpoint 'installed', 2 stage(s): a b\n"
        f"  a: tandem-identity -> {prefix / 'bin' / 'tandem-identity'} (beside tandem)\n"
        f"  b: tandem-postprocess -> {libexec / 'tandem-postprocess'} (libexec)\n")
