"""tandem-python on real processes: start-up, and the master's watch over its workers.

Code from `code/` in a PyTorch model.tar.gz (with its requirements.txt) and from S3 (moto);
every way an entry point can be unusable (a syntax error, an import of a module that is not
installed, an uninstallable requirement, a missing model_fn where the framework needs one, a
bad variable): the stage stops at once with one line naming the file and line, and tandem
reports it as a failed start. Then the worker timeout, a replacement that cannot load, and
/ping answered during a long request."""
import io
import json
import re
import tarfile
import textwrap

import numpy as np
import pytest

from harness import pid_alive, wait_until
from s3_support import s3, s3_endpoint, s3_env  # noqa: F401 (fixtures)

TARGET = "X-Amzn-SageMaker-Target-Container-Hostname"


def write(folder, files: dict):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


def tar_gz(files: dict) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            raw = textwrap.dedent(text).lstrip().encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return out.getvalue()


def stage(name, model_dir, framework="sklearn", **env) -> dict:
    variables = {"TANDEM_FRAMEWORK": framework, "SAGEMAKER_PROGRAM": "inference.py"}
    variables.update({k: str(v) for k, v in env.items()})
    return {"name": name, "command": ["tandem-python", "serve"], "env": variables,
            "model_dir": str(model_dir), "startup_timeout_s": 120}


def sleepy_entry_point(trigger: bytes, seconds: int) -> dict:
    """A framework-"none" entry point that echoes its input, after `seconds` for `trigger`."""
    return {"code/inference.py": f"""
        import time

        def input_fn(body, content_type):
            return body

        def predict_fn(data, model):
            if data == {trigger!r}:
                time.sleep({seconds})
            return data

        def output_fn(prediction, accept):
            return prediction, "application/octet-stream"
        """}


def failed_start(tandem_factory, spec, env=None) -> str:
    tandem = tandem_factory.launch(spec, env=env)
    tandem.expected_exit = None
    code = tandem.wait_exit(150)
    log = tandem.log()
    assert code == 1, log
    pids = tandem.stage_pids()
    wait_until(lambda: not any(pid_alive(p) for p in pids.values()), 10,
               f"stage processes {pids} to be gone")
    match = re.search(r"ERROR start-up failed: (.*(?:\n    \|.*)*)", log)
    assert match, f"no 'start-up failed' line in:\n{log}"
    return match.group(1)


def test_pytorch_code_and_requirements_inside_model_tar_gz(tandem_factory, tmp_path):
    """PyTorchModel's layout: code/inference.py and code/requirements.txt in model.tar.gz; a
    SAGEMAKER_SUBMIT_DIRECTORY of /opt/ml/model/code (what the SDK sets) changes nothing."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.tar.gz").write_bytes(tar_gz({
        "scale.json": '{"factor": 3}',
        "code/requirements.txt": "numpy>=1.0  # installed by Debian\n",
        "code/helper.py": "def triple(x, factor):\n    return [v * factor for v in x]\n",
        "code/inference.py": """
            import json, os
            from helper import triple

            def model_fn(model_dir):
                return json.load(open(os.path.join(model_dir, "scale.json")))["factor"]

            def predict_fn(data, model):
                return triple(data.tolist(), model)
            """}))
    tandem = tandem_factory({"name": "py-torch-code", "stages": [
        stage("scaler", model, "pytorch", SAGEMAKER_SUBMIT_DIRECTORY="/opt/ml/model/code")]})
    res = tandem.invoke(b"[1, 2, 4]", "application/json", headers={"Accept": "application/json"})
    assert res.status == 200, res
    assert res.json() == [3.0, 6.0, 12.0]


def test_code_from_s3(tandem_factory, tmp_path, s3, s3_endpoint):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="jobs/abc/source/sourcedir.tar.gz", Body=tar_gz({
        "inference.py": """
            def model_fn(model_dir):
                return "s3"

            def transform_fn(model, body, content_type, accept):
                return body + "|" + model, "text/csv"
            """}))
    model = write(tmp_path / "model", {"unused.txt": "x"})
    tandem = tandem_factory({"name": "py-s3-code", "stages": [stage(
        "from-s3", model, "sklearn",
        SAGEMAKER_SUBMIT_DIRECTORY=f"s3://{bucket}/jobs/abc/source/sourcedir.tar.gz")]},
        env=s3_env(s3_endpoint))
    res = tandem.invoke(b"a,b", "text/csv")
    assert res.status == 200, res
    assert res.body == b"a,b|s3"


def test_code_from_s3_that_is_missing(tandem_factory, tmp_path, s3, s3_endpoint):
    _client, bucket = s3
    model = write(tmp_path / "model", {"unused.txt": "x"})
    message = failed_start(tandem_factory, {"name": "py-s3-missing", "stages": [stage(
        "from-s3", model, SAGEMAKER_SUBMIT_DIRECTORY=f"s3://{bucket}/nothing/sourcedir.tar.gz")]},
        env=s3_env(s3_endpoint))
    assert f"SAGEMAKER_SUBMIT_DIRECTORY=s3://{bucket}/nothing/sourcedir.tar.gz" in message, message


BAD_SCRIPTS = {
    "syntax": ({"code/inference.py": "def model_fn(model_dir)\n    return 1\n"},
               r"inference\.py:1: .*(SyntaxError|expected ':')"),
    "missing-module": ({"code/inference.py": "import os\nimport sagemaker_no_such_thing\n"
                                             "def model_fn(d):\n    return 1\n"},
                       r"inference\.py:2: .*sagemaker_no_such_thing.*registry"),
    "missing-model-fn": ({"code/inference.py": "def predict_fn(x, model):\n    return x\n"},
                         r"model_fn"),
    "model-fn-raises": ({"code/inference.py": "def model_fn(d):\n    raise RuntimeError("
                                              "'no weights in ' + d)\n"},
                        r"inference\.py:2: .*RuntimeError: no weights in"),
    "requirement": ({"code/inference.py": "def model_fn(d):\n    return 1\n",
                     "code/requirements.txt": "numpy\nno-such-package-here==1.0\n"},
                    r"requirements\.txt:2: requirement 'no-such-package-here' is not installed"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCRIPTS))
def test_an_unusable_entry_point_stops_the_stage_with_one_clear_line(tandem_factory, tmp_path,
                                                                   case):
    files, pattern = BAD_SCRIPTS[case]
    model = write(tmp_path / "model", files)
    message = failed_start(tandem_factory, {"name": f"py-bad-{case}", "stages": [
        stage("bad", model)]})
    assert message.startswith("stage 'bad' (container-1) exited with status 1 during start-up; "
                              "its last lines:"), message
    assert re.search(pattern, message), message


def test_bad_variables_are_all_named(tandem_factory, tmp_path):
    model = write(tmp_path / "model", {"code/inference.py": "def model_fn(d):\n    return 1\n"})
    bad = stage("bad", model, "tensorflow", SAGEMAKER_MODEL_SERVER_WORKERS="many")
    message = failed_start(tandem_factory, {"name": "py-bad-env", "stages": [bad]})
    assert "TANDEM_FRAMEWORK: expected one of sklearn, xgboost, pytorch, none" in message
    assert 'SAGEMAKER_MODEL_SERVER_WORKERS: expected a whole number 1-64, got "many"' in message


def test_a_request_over_the_timeout_kills_its_worker_and_only_fails_itself(tandem_factory,
                                                                          tmp_path):
    """SAGEMAKER_MODEL_SERVER_TIMEOUT, as gunicorn's worker timeout: the worker is killed and
    replaced; the request fails, the next one is answered."""
    model = write(tmp_path / "model", sleepy_entry_point(b"slow", 60))
    tandem = tandem_factory({"name": "py-timeout", "stages": [
        stage("slow", model, "none", SAGEMAKER_MODEL_SERVER_TIMEOUT=2)]})
    pid = tandem.stage_pids()["slow"]
    res = tandem.invoke(b"slow", "application/octet-stream")
    assert res.status == 424, res
    tandem.wait_for_log(r"slow \| tandem-python: worker 0 \(pid \d+\) has run one request for "
                        r"more than SAGEMAKER_MODEL_SERVER_TIMEOUT=2 s; killing it")
    res = wait_until(lambda: (r := tandem.invoke(b"quick", "application/octet-stream"))
                     .status == 200 and r, 60, "a new worker to answer")
    assert res.body == b"quick"
    assert tandem.stage_pids()["slow"] == pid  # the stage itself never restarted


def test_a_replacement_that_cannot_load_leaves_the_other_workers_serving(tandem_factory,
                                                                        tmp_path):
    """The first two loads succeed (two workers), every later one fails: a killed worker's
    replacement failing to load does not stop the stage (the other worker is serving); it is
    retried until the deaths make a crash loop, and the stage then stops, saying so."""
    loads = tmp_path / "loads"
    loads.mkdir()
    model = write(tmp_path / "model", {"code/inference.py": f"""
        import os

        def model_fn(model_dir):
            for n in range(100):
                try:
                    os.close(os.open(os.path.join({str(loads)!r}, str(n)),
                                     os.O_CREAT | os.O_EXCL))
                    break
                except FileExistsError:
                    continue
            if n >= 2:
                raise RuntimeError(f"load number {{n}} refused")
            return n

        def transform_fn(model, body, content_type, accept):
            return body, "application/octet-stream"
        """})
    tandem = tandem_factory({"name": "py-replace", "stages": [
        stage("two", model, "none", SAGEMAKER_MODEL_SERVER_WORKERS=2)]})
    pid = tandem.stage_pids()["two"]
    import os as _os
    import signal as _signal
    import subprocess as _subprocess
    workers = [int(p) for p in _subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                                               capture_output=True, text=True).stdout.split()]
    assert len(workers) == 2, workers
    _os.kill(workers[0], _signal.SIGKILL)
    tandem.wait_for_log(r"two \| tandem-python: a new worker \d could not load the model: "
                        r"inference\.py:\d+: .*RuntimeError: load number 2 refused")
    tandem.wait_for_log(r"two \| tandem-python: 5 workers died within a minute", timeout=60)
    assert "two | tandem-python: received" not in tandem.log()
    tandem.expected_exit = None  # the stage keeps failing to start from now on


def test_ping_is_answered_while_the_only_worker_runs_a_long_request(tandem_factory, tmp_path):
    """A request longer than three of tandem's liveness pings (1 s apart, 2 s timeout each)
    must not make the stage look dead: the worker's HTTP server answers /ping on a thread of
    its own while the handler runs."""
    model = write(tmp_path / "model", sleepy_entry_point(b"long", 10))
    tandem = tandem_factory({"name": "py-long", "stages": [stage("long", model, "none")]})
    import threading
    answers = []
    thread = threading.Thread(target=lambda: answers.append(
        tandem.invoke(b"long", "application/octet-stream")))
    thread.start()
    pings = []
    while thread.is_alive():
        pings.append(tandem.ping().status)
        thread.join(0.5)
    assert answers and answers[0].status == 200, answers
    assert set(pings) == {200}, pings
    assert "consecutive pings" not in tandem.log()
