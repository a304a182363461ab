"""mount_model_dir: serving code that hard-codes /opt/ml/model runs unchanged, each stage
seeing its own model_dir there, in its own mount namespace; the host's /opt/ml/model is
untouched. Needs root or unprivileged user namespaces (CI runs as root)."""
import os
import sys
from pathlib import Path

import pytest

# A stage that, like much real BYOC code, opens /opt/ml/model directly and ignores SM_MODEL_DIR.
HARD_CODED_STAGE = r'''
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

with open("/opt/ml/model/answer.txt") as f:
    ANSWER = f.read().strip().encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(body + b"|" + ANSWER + b"|" + os.environ["SM_MODEL_DIR"].encode())

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
'''

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the mount test runs as root (CI does)")


def model_dir(tmp_path: Path, name: str, answer: str) -> str:
    path = tmp_path / name
    path.mkdir()
    (path / "answer.txt").write_text(answer + "\n")
    return str(path)


def test_each_stage_sees_its_own_model_dir_at_opt_ml_model(tandem_factory, tmp_path):
    script = tmp_path / "hard_coded.py"
    script.write_text(HARD_CODED_STAGE)
    before = sorted(os.listdir("/opt/ml/model")) if os.path.isdir("/opt/ml/model") else None
    stage = lambda name, answer: {"name": name, "command": [sys.executable, str(script)],
                                  "model_dir": model_dir(tmp_path, name, answer),
                                  "mount_model_dir": True}
    tandem = tandem_factory({"name": "mounts", "stages": [stage("one", "first"), stage("two", "second")]})
    res = tandem.invoke(b"in", "text/plain")
    assert res.status == 200, res
    assert res.body == b"in|first|/opt/ml/model|second|/opt/ml/model"
    # The mounts live only in the stages' namespaces.
    assert not os.path.exists("/opt/ml/model/answer.txt")
    assert (sorted(os.listdir("/opt/ml/model")) if before is not None else []) == (before or [])


def test_without_mount_model_dir_the_code_fails_at_start_up(tandem_factory, tmp_path):
    script = tmp_path / "hard_coded.py"
    script.write_text(HARD_CODED_STAGE)
    tandem = tandem_factory.launch(
        {"name": "no-mount", "stages": [{"name": "one", "command": [sys.executable, str(script)],
                                         "model_dir": model_dir(tmp_path, "one", "x")}]})
    assert tandem.wait_exit(30) == 1
    assert "FileNotFoundError" in tandem.log()
    assert "/opt/ml/model/answer.txt" in tandem.log()
