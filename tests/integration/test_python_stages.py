"""tandem-python on real processes: SageMaker framework entry points (inference.py) served
unchanged, as the scikit-learn, XGBoost and PyTorch containers serve them, over HTTP and over
the shared-memory ring. One tandem in direct mode holds one stage per handler shape, each
called by its name (X-Amzn-SageMaker-Target-Container-Hostname); the models are trained here
with Debian's scikit-learn, XGBoost and PyTorch and packed as `model.tar.gz` like an
estimator's output. The handler rules themselves are unit-tested in tests/python."""
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from harness import assert_error, wait_until
from s3_support import s3, s3_endpoint, s3_env  # noqa: F401 (fixtures)

TARGET = "X-Amzn-SageMaker-Target-Container-Hostname"
ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]])
CSV_ROWS = "\n".join(",".join(f"{v:g}" for v in row) for row in ROWS).encode()


def pack(folder: Path, files: dict, archive: bool = True) -> Path:
    """A model folder holding `model.tar.gz` with `files` (name -> bytes or a Path to copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not archive:
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            raw = data if isinstance(data, bytes) else Path(data).read_bytes()
            (folder / name).write_bytes(raw)
        return folder
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        for name, data in files.items():
            raw = data if isinstance(data, bytes) else Path(data).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return folder


def script(text: str) -> bytes:
    return textwrap.dedent(text).lstrip().encode()


def train_sklearn(path: Path):
    import joblib
    from sklearn.linear_model import LinearRegression
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 4))
    model = LinearRegression().fit(x, x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25)
    joblib.dump(model, path)
    return model


def train_xgboost(path: Path):
    import xgboost as xgb
    rng = np.random.default_rng(11)
    x = rng.normal(size=(60, 4))
    y = (x[:, 0] + x[:, 3] > 0).astype(float)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "verbosity": 0},
                        xgb.DMatrix(x, label=y), num_boost_round=4)
    booster.save_model(str(path))
    return booster


def save_torchscript(path: Path):
    import torch
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Tanh())
    torch.jit.script(model).save(str(path))
    return model


SKLEARN_MODEL_FN = script("""
    import os
    import joblib

    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))
    """)

XGBOOST_MODEL_FN = script("""
    import os
    import xgboost as xgb

    def model_fn(model_dir):
        booster = xgb.Booster()
        booster.load_model(os.path.join(model_dir, "xgboost-model"))
        return booster
    """)

ALL_FOUR = script("""
    import json
    import os
    import joblib
    import numpy as np

    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))

    def input_fn(body, content_type):
        if content_type != "application/json":
            raise ValueError(f"this featurizer takes application/json, got {content_type}")
        return np.array(json.loads(body)["instances"], dtype=float)

    def predict_fn(data, model):
        return model.predict(data)

    def output_fn(prediction, accept):
        return json.dumps({"predictions": [round(float(p), 6) for p in prediction]}), accept
    """)

TRANSFORM_FN = script("""
    def model_fn(model_dir):
        return open(model_dir + "/suffix.txt").read().strip()

    def transform_fn(model, body, content_type, accept):
        text = body if isinstance(body, str) else body.decode()
        return text.upper() + model, "text/plain"
    """)

HELPER_IMPORTS = script("""
    import os
    import joblib
    import numpy as np
    # Imports that real scripts carry at module level, training-only ones included.
    from sagemaker_containers.beta.framework import content_types, encoders, worker
    import sagemaker_containers.entry_point  # noqa: F401
    from sagemaker_inference import decoder, encoder, errors  # noqa: F401
    import sagemaker_xgboost_container.encoder as xgb_encoders  # noqa: F401
    from sagemaker_xgboost_container import distributed, data_utils  # noqa: F401

    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))

    def input_fn(body, content_type):
        return encoders.decode(body, content_type)

    def output_fn(prediction, accept):
        return worker.Response(encoders.encode(prediction, accept), mimetype=accept)
    """)

PREDICT_RAISES = script("""
    import time

    def model_fn(model_dir):
        return None

    def input_fn(body, content_type):
        return body

    def predict_fn(data, model):
        if data.startswith(b"sleep"):
            time.sleep(30)
        if data == b"boom":
            raise ValueError("boom was asked for")
        return data

    def output_fn(prediction, accept):
        return prediction, "application/octet-stream"
    """)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("python-models")
    sk_model = train_sklearn(root / "model.joblib")
    xgb_model = train_xgboost(root / "xgboost-model")
    torch_model = save_torchscript(root / "model.pt")
    sourcedir = root / "sourcedir.tar.gz"
    with tarfile.open(sourcedir, "w:gz") as tar:
        info = tarfile.TarInfo("inference.py")
        info.size = len(SKLEARN_MODEL_FN)
        tar.addfile(info, io.BytesIO(SKLEARN_MODEL_FN))
    dirs = {
        "sk_model_fn": pack(root / "sk", {"model.joblib": root / "model.joblib",
                                          "code/inference.py": SKLEARN_MODEL_FN}),
        "xgb_model_fn": pack(root / "xgb", {"xgboost-model": root / "xgboost-model",
                                            "code/inference.py": XGBOOST_MODEL_FN}),
        "torch_defaults": pack(root / "torch", {"model.pt": root / "model.pt"}),
        "all_four": pack(root / "four", {"model.joblib": root / "model.joblib",
                                         "code/inference.py": ALL_FOUR}, archive=False),
        "transform_fn": pack(root / "tfn", {"suffix.txt": b"|done\n",
                                            "code/inference.py": TRANSFORM_FN}),
        "helpers": pack(root / "helpers", {"model.joblib": root / "model.joblib",
                                           "code/inference.py": HELPER_IMPORTS}),
        "sourcedir": pack(root / "srcdir", {"model.joblib": root / "model.joblib"}),
        "raises": pack(root / "raises", {"code/inference.py": PREDICT_RAISES}, archive=False),
    }
    return {"dirs": dirs, "sourcedir": sourcedir, "sklearn": sk_model, "xgboost": xgb_model,
            "torch": torch_model, "root": root}


def python_stage(name: str, framework: str, model_dir: Path, **env) -> dict:
    variables = {"TANDEM_FRAMEWORK": framework}
    if framework != "pytorch":
        variables["SAGEMAKER_PROGRAM"] = "inference.py"
    variables.update({k: str(v) for k, v in env.items()})
    return {"name": name, "command": ["tandem-python", "serve"], "env": variables,
            "model_dir": str(model_dir), "startup_timeout_s": 120}


def shapes_spec(name: str, models: dict, transport: str) -> dict:
    d = models["dirs"]
    stages = [
        python_stage("sk-model-fn", "sklearn", d["sk_model_fn"]),
        python_stage("xgb-model-fn", "xgboost", d["xgb_model_fn"]),
        python_stage("torch-defaults", "pytorch", d["torch_defaults"]),
        python_stage("all-four", "sklearn", d["all_four"]),
        python_stage("transform-fn", "sklearn", d["transform_fn"]),
        python_stage("helpers", "sklearn", d["helpers"]),
        python_stage("sourcedir", "sklearn", d["sourcedir"],
                     SAGEMAKER_SUBMIT_DIRECTORY=models["sourcedir"]),
        python_stage("raises", "none", d["raises"], SAGEMAKER_MODEL_SERVER_WORKERS=2,
                     SAGEMAKER_MODEL_SERVER_TIMEOUT=20),
    ]
    for stage in stages:
        stage["transport"] = transport
    return {"name": name, "mode": "direct", "stages": stages}


@pytest.fixture(scope="module", params=["http", "shm"])
def shapes(request, module_tandem_factory, models):
    return module_tandem_factory(
        shapes_spec(f"python-shapes-{request.param}", models, request.param))


def call(tandem, stage: str, body: bytes, content_type: str | None = "text/csv",
         accept: str | None = None):
    headers = {TARGET: stage}
    if accept is not None:
        headers["Accept"] = accept
    return tandem.invoke(body, content_type, headers=headers)


def test_sklearn_model_fn_only_uses_the_containers_defaults(shapes, models):
    res = call(shapes, "sk-model-fn", CSV_ROWS)
    assert res.status == 200, res
    # No Accept: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT's default, application/json.
    assert res.header("Content-Type") == "application/json"
    expected = models["sklearn"].predict(ROWS.astype(np.float32))
    assert np.allclose(json.loads(res.body), expected, rtol=1e-5)
    res = call(shapes, "sk-model-fn", CSV_ROWS, accept="text/csv")
    assert res.status == 200, res
    assert res.header("Content-Type") == "text/csv; charset=utf-8"
    assert np.allclose([float(v) for v in res.body.decode().split()], expected, rtol=1e-5)


def test_xgboost_model_fn_only_reads_csv_and_libsvm(shapes, models):
    import xgboost as xgb
    expected = models["xgboost"].predict(xgb.DMatrix(ROWS))
    res = call(shapes, "xgb-model-fn", CSV_ROWS, accept="text/csv")
    assert res.status == 200, res
    assert np.allclose([float(v) for v in res.body.decode().split()], expected, rtol=1e-5)
    libsvm = "\n".join(" ".join(["0"] + [f"{i}:{v:g}" for i, v in enumerate(row)])
                       for row in ROWS).encode()
    res = call(shapes, "xgb-model-fn", libsvm, "text/libsvm", accept="application/json")
    assert res.status == 200, res
    assert np.allclose(json.loads(res.body), expected, rtol=1e-5)


def test_pytorch_with_no_script_loads_model_pt(shapes, models):
    import torch
    expected = models["torch"](torch.tensor(ROWS, dtype=torch.float32)).tolist()
    res = call(shapes, "torch-defaults", json.dumps(ROWS.tolist()).encode(), "application/json")
    assert res.status == 200, res
    assert res.header("Content-Type") == "application/json"
    assert np.allclose(json.loads(res.body), expected, rtol=1e-5)


def test_all_four_functions(shapes, models):
    body = json.dumps({"instances": ROWS.tolist()}).encode()
    res = call(shapes, "all-four", body, "application/json", accept="application/json")
    assert res.status == 200, res
    assert res.header("Content-Type") == "application/json"
    expected = models["sklearn"].predict(ROWS)
    assert np.allclose(res.json()["predictions"], expected, rtol=1e-5)


def test_transform_fn(shapes):
    res = call(shapes, "transform-fn", b"abc", "text/csv")
    assert res.status == 200, res
    assert res.body == b"ABC|done"
    assert res.header("Content-Type") == "text/plain; charset=utf-8"


def test_helper_modules_import_and_work(shapes, models):
    res = call(shapes, "helpers", CSV_ROWS, accept="text/csv")
    assert res.status == 200, res
    expected = models["sklearn"].predict(ROWS.astype(np.float32))
    assert np.allclose([float(v) for v in res.body.decode().split()], expected, rtol=1e-4)


def test_code_from_a_sourcedir_archive(shapes, models):
    res = call(shapes, "sourcedir", CSV_ROWS)
    assert res.status == 200, res
    assert np.allclose(json.loads(res.body), models["sklearn"].predict(ROWS), rtol=1e-4)


def test_exception_in_predict_fn_is_an_error_and_the_stage_stays_up(shapes):
    res = call(shapes, "raises", b"boom", "application/octet-stream")
    body = assert_error(res, 424, "ModelError", re.compile(r".*\(500\).*'raises'.*", re.S))
    # The file and line of the script, the handler, the exception: not Flask's HTML page.
    assert body["OriginalMessage"] == "inference.py:13: predict_fn: ValueError: boom was asked for"
    res = call(shapes, "raises", b"fine", "application/octet-stream")
    assert res.status == 200, res
    assert res.body == b"fine"


def test_unsupported_content_type_is_500_as_in_the_containers(shapes):
    res = call(shapes, "sk-model-fn", b"\x00\x01", "application/x-unknown")
    body = assert_error(res, 424, "ModelError", re.compile(r".*\(500\).*'sk-model-fn'.*", re.S))
    assert "application/x-unknown" in body["OriginalMessage"], body
    assert call(shapes, "sk-model-fn", CSV_ROWS).status == 200


def worker_pids(stage_pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(stage_pid)], capture_output=True,
                         text=True, check=False).stdout
    return [int(p) for p in out.split()]


def test_a_worker_killed_mid_request_fails_that_request_only(shapes):
    stage_pid = shapes.stage_pids()["raises"]
    before = worker_pids(stage_pid)
    assert len(before) == 2, before
    answers = []
    thread = threading.Thread(target=lambda: answers.append(
        call(shapes, "raises", b"sleep", "application/octet-stream")))
    started = time.monotonic()
    thread.start()
    time.sleep(1.0)  # the request is in a worker's predict_fn (it sleeps 30 s)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    thread.join(40)
    assert answers, "the request never returned"
    assert answers[0].status == 424, answers[0]
    assert time.monotonic() - started < 20, "the request waited for its deadline"
    # New workers take over; the stage (its master) never went away.
    wait_until(lambda: len(worker_pids(stage_pid)) == 2 and
               not set(worker_pids(stage_pid)) & set(before), 60, "two new workers")
    assert shapes.stage_pids()["raises"] == stage_pid
    res = wait_until(lambda: (r := call(shapes, "raises", b"again", "application/octet-stream"))
                     .status == 200 and r, 60, "the replaced workers to answer")
    assert res.body == b"again"
    assert shapes.ping().status == 200
