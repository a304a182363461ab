#!/usr/bin/env python3
"""Runs the README's set-up and tour as a newcomer would, and checks what the README shows.

Every fenced ```sh block of README.md runs as written, from the repository's root, in a fresh
`bash -e -o pipefail` whose environment has nothing of tandem's: no build folder on PATH, no
TANDEM_* or AWS_* variable, no make variables. A ```python block runs with the `python3` on that
PATH. A ```text block right after a command block is what that block prints: it must match
exactly, where `...` stands for any text (as in Python's doctests).

Two commands cannot run to completion as written, because the README means them to keep
running while the reader does something else; they are recognised by their text:
- `make demo` (the set-up block): started in the background; the tour waits until it serves,
  and stops it (Ctrl-C) when the tour serves something else on its port or ends. `make test`,
  in the same block, is what runs this script, so it is not run again.
- a command ending in `# then curl, Ctrl-C`: started in the background; once it serves, the
  tour's first `curl` command runs against it, then it gets Ctrl-C and must exit 0.

Exit status 0 when every block ran and printed what the README shows; otherwise 1, with the
block's line in README.md, the command, and the difference.
"""
from __future__ import annotations

import difflib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEMO_PORT = 8080
SERVE_DEADLINE_S = 900  # `make demo` may still have to build
BLOCK_DEADLINE_S = 300
STOP_DEADLINE_S = 60
BACKGROUND_MARK = "# then curl, Ctrl-C"


@dataclass
class Block:
    language: str
    text: str
    line: int  # of the opening fence, 1-based
    expected: str | None = None  # the ```text block that follows, if any


class TourFailure(Exception):
    pass


def parse(readme: str) -> list[Block]:
    blocks: list[Block] = []
    fence = re.compile(r"^```(\w*)\s*$")
    lines = readme.split("\n")
    i = 0
    while i < len(lines):
        opening = fence.match(lines[i])
        if not opening:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise TourFailure(f"README.md:{start + 1}: a code block is never closed")
        i += 1
        language = opening.group(1)
        text = "\n".join(body) + "\n"
        if language == "text":
            if not blocks or blocks[-1].language not in ("sh", "python") or blocks[-1].expected:
                raise TourFailure(f"README.md:{start + 1}: a ```text block (a shown output) must "
                                  "follow the ```sh or ```python block that prints it")
            blocks[-1].expected = text
        else:
            blocks.append(Block(language, text, start + 1))
    return blocks


def fresh_env() -> dict[str, str]:
    """The environment of a new login shell of this user: tandem's additions removed."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TANDEM_", "AWS_", "MAKE", "MFLAGS"))}
    path = [p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
            if p and "/build/" not in p + "/" and not p.startswith(str(ROOT))]
    env["PATH"] = os.pathsep.join(path)
    return env


def matches(expected: str, actual: str) -> bool:
    def normal(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))
    pattern = ".*?".join(re.escape(part) for part in normal(expected).split("..."))
    return re.fullmatch(pattern, normal(actual), re.DOTALL) is not None


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Background:
    """A command of the tour that keeps running: its output goes to a file we watch."""

    def __init__(self, command: str, env: dict[str, str], where: str):
        self.command = command
        self.where = where
        self.log = tempfile.NamedTemporaryFile(prefix="tandem-tour-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", command], cwd=ROOT,
                                     env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_serving(self) -> None:
        deadline = time.monotonic() + SERVE_DEADLINE_S
        while time.monotonic() < deadline:
            if re.search(r"\bserving on\b", self.output()):
                return
            if self.proc.poll() is not None:
                raise TourFailure(f"{self.where}: `{self.command}` exited with status "
                                  f"{self.proc.returncode} before serving:\n{self.tail()}")
            time.sleep(0.2)
        raise TourFailure(f"{self.where}: `{self.command}` did not serve within "
                          f"{SERVE_DEADLINE_S} s:\n{self.tail()}")

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it: SIGINT to the whole foreground group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise TourFailure(f"{self.where}: `{self.command}` did not stop within "
                                  f"{STOP_DEADLINE_S} s of Ctrl-C:\n{self.tail()}")
        return self.proc.returncode

    def tail(self, lines: int = 30) -> str:
        return "\n".join("    | " + line for line in self.output().splitlines()[-lines:])


def run_block(block: Block, env: dict[str, str]) -> str:
    where = f"README.md:{block.line}"
    if block.language == "sh":
        argv = ["bash", "-e", "-o", "pipefail", "-c", block.text]
    elif block.language == "python":
        argv = ["python3", "-c", block.text]
    else:
        raise TourFailure(f"{where}: a ```{block.language} block: the tour runs only ```sh and "
                          "```python blocks (mark other text as ```text after a command)")
    try:
        result = subprocess.run(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=BLOCK_DEADLINE_S)
    except subprocess.TimeoutExpired:
        raise TourFailure(f"{where}: did not finish within {BLOCK_DEADLINE_S} s:\n{block.text}")
    if result.returncode != 0:
        raise TourFailure(f"{where}: exited with status {result.returncode}:\n{block.text}"
                          f"stdout:\n{result.stdout}stderr:\n{result.stderr}")
    return result.stdout


def check_output(block: Block, actual: str) -> None:
    if block.expected is None or matches(block.expected, actual):
        return
    diff = "\n".join(difflib.unified_diff(block.expected.splitlines(), actual.splitlines(),
                                          "README shows", "the command printed", lineterm=""))
    raise TourFailure(f"README.md:{block.line}: the output differs from what the README shows "
                      f"(`...` matches any text):\n{block.text}{diff}")


def tour() -> int:
    blocks = parse(README.read_text())
    setup = next((b for b in blocks if b.language == "sh" and "make demo" in b.text), None)
    if setup is None or "make test" not in setup.text:
        raise TourFailure("README.md: no set-up block with `make demo` and `make test`")
    steps = [b for b in blocks[blocks.index(setup) + 1:] if b.language in ("sh", "python")]
    curl = next((line for b in steps if b.language == "sh" for line in b.text.splitlines()
                 if "curl " in line), None)
    if not steps or curl is None:
        raise TourFailure("README.md: the tour has no commands, or none that sends a request "
                          "with curl")
    env = fresh_env()
    if port_in_use(DEMO_PORT):
        raise TourFailure(f"port {DEMO_PORT} is in use on this host: the README's tour serves "
                          "on it; stop what holds it and run again")
    demo_line = next(line for line in setup.text.splitlines() if line.startswith("make demo"))
    server = Background(demo_line, env, f"README.md:{setup.line}")
    ran = 0
    try:
        server.wait_serving()
        for block in steps:
            where = f"README.md:{block.line}"
            lines = block.text.splitlines()
            marked = [i for i, line in enumerate(lines) if line.rstrip().endswith(BACKGROUND_MARK)]
            if marked:
                # Another server on the same port: the demo stops first, as the reader's would.
                server.interrupt()
                first = marked[0]
                before = "\n".join(lines[:first])
                if before.strip():
                    run_block(Block("sh", before + "\n", block.line), env)
                server = Background(lines[first], env, where)
                server.wait_serving()
                run_block(Block("sh", curl + "\n", block.line), env)
                status = server.interrupt()
                if status != 0:
                    raise TourFailure(f"{where}: `{lines[first]}` exited with status {status} "
                                      f"after Ctrl-C:\n{server.tail()}")
                rest = Block("sh", "\n".join(lines[first + 1:]) + "\n", block.line,
                             block.expected)
                check_output(rest, run_block(rest, env))
            else:
                check_output(block, run_block(block, env))
            ran += 1
            print(f"ok   README.md:{block.line}: {lines[0] if lines else ''}", flush=True)
    finally:
        server.interrupt()
    print(f"README tour: {ran} block(s) ran and printed what the README shows")
    return 0


def main() -> int:
    try:
        return tour()
    except TourFailure as failure:
        print(f"README tour FAILED: {failure}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
