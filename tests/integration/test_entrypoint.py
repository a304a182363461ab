"""deploy/entrypoint.sh run the way SageMaker runs the image (`IMAGE serve`), outside a
container: the model artifact is a folder standing in for /opt/ml/model (TANDEM_MODEL_DIR),
the port comes from SAGEMAKER_BIND_TO_PORT, a batch job sets SAGEMAKER_BATCH."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import (REPO_ROOT, Tandem, bin_dir, complete_spec, identity, process_env,
                     write_spec)

ENTRYPOINT = REPO_ROOT / "deploy" / "entrypoint.sh"
EXAMPLE = REPO_ROOT / "examples" / "breast-cancer"


def model_dir(tmp_path: Path, spec: dict) -> Path:
    folder = tmp_path / "opt" / "ml" / "model"
    folder.mkdir(parents=True)
    write_spec(folder, complete_spec(spec))
    return folder


def sagemaker_env(model: Path, **extra: str) -> dict:
    # What SageMaker sets, with the paths and address tests need: loopback, and port 0 so
    # the kernel picks a free one (tandem logs it).
    return process_env(TANDEM_MODEL_DIR=str(model), SAGEMAKER_BIND_TO_PORT="0",
                       TANDEM_HOST="127.0.0.1", **extra)


def start(tandem_factory, tmp_path: Path, env: dict, name: str) -> Tandem:
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(ENTRYPOINT), "serve"], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    tandem = Tandem(proc, Path(env["TANDEM_MODEL_DIR"]) / "pipeline.yaml", log_path, name)
    tandem_factory.started.append(tandem)  # stopped and checked like any other tandem
    tandem.wait_serving()
    return tandem


def entrypoint(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ENTRYPOINT), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_serve_as_a_sagemaker_endpoint(tandem_factory, tmp_path):
    model = model_dir(tmp_path, {"name": "sm-endpoint", "stages": [
        identity("a", append="|a"), identity("b", append="|b")]})
    tandem = start(tandem_factory, tmp_path, sagemaker_env(model), "sm-endpoint")
    assert tandem.ping().status == 200
    res = tandem.invoke(b"row", "text/csv")
    assert (res.status, res.body) == (200, b"row|a|b"), res
    res = tandem.invoke(b"row", "text/csv", path="/endpoints/sm-endpoint/invocations")
    assert res.status == 200, res
    # The image logs JSON; the entrypoint passes TANDEM_LOG_FORMAT through.
    assert tandem.terminate() == 0


def test_batch_transform_container_answers_execution_parameters(tandem_factory, tmp_path):
    model = model_dir(tmp_path, {
        "name": "sm-batch",
        "execution_parameters": {"max_concurrent_transforms": 3,
                                 "batch_strategy": "SINGLE_RECORD", "max_payload_mb": 2},
        "stages": [identity("a")]})
    env = sagemaker_env(model, SAGEMAKER_BATCH="true", SAGEMAKER_BATCH_STRATEGY="SINGLE_RECORD",
                        SAGEMAKER_MAX_PAYLOAD_IN_MB="2", TANDEM_LOG_FORMAT="json")
    tandem = start(tandem_factory, tmp_path, env, "sm-batch")
    res = tandem.request("GET", "/execution-parameters")
    assert res.status == 200, res
    assert res.json() == {"MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD",
                          "MaxPayloadInMB": 2}
    assert tandem.ping().status == 200
    assert tandem.invoke(b"1,2").status == 200
    assert ("tandem-entrypoint: batch transform: MaxConcurrentTransforms=unset "
            "BatchStrategy=SINGLE_RECORD MaxPayloadInMB=2") in tandem.log()


def test_the_example_model_artifact_serves_its_predictions(tandem_factory, tmp_path):
    """examples/breast-cancer laid out as model.tar.gz unpacks into /opt/ml/model: the spec at
    its root, model files under it, relative paths resolved against it."""
    for stage in ("tandem-featurize", "tandem-xgboost", "tandem-postprocess"):
        if not os.access(bin_dir() / stage, os.X_OK):
            pytest.fail(f"{stage} is not built in {bin_dir()}", pytrace=False)
    model = tmp_path / "opt" / "ml" / "model"
    shutil.copytree(EXAMPLE, model, ignore=shutil.ignore_patterns("byoc", "*.py", "__pycache__"))
    tandem = start(tandem_factory, tmp_path, sagemaker_env(model), "breast-cancer")
    rows = (EXAMPLE / "heldout.csv").read_text().splitlines()[:2]
    res = tandem.invoke("\n".join(rows).encode(), "text/csv")
    assert res.status == 200, res
    expected = [json.loads(line) for line in (EXAMPLE / "expected.jsonl").read_text().splitlines()]
    got = res.json()["predictions"]
    assert [p["label"] for p in got] == [e["label"] for e in expected[:2]], (got, expected[:2])
    assert all(abs(p["score"] - e["score"]) < 1e-6 for p, e in zip(got, expected)), got


def test_commands_and_defaults(tmp_path):
    model = model_dir(tmp_path, {"name": "dry", "stages": [identity("a")]})
    spec = model / "pipeline.yaml"
    base = {k: v for k, v in process_env().items() if not k.startswith(("SAGEMAKER_", "TANDEM_"))}
    env = {**base, "TANDEM_MODEL_DIR": str(model), "TANDEM_DRY_RUN": "1"}

    # SageMaker's defaults: every address, port 8080.
    run = entrypoint("serve", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["tandem", "serve", str(spec), "--host", "0.0.0.0", "--port",
                                  "8080"]
    # No argument is `serve`, as SageMaker's `docker run IMAGE` without a command would be.
    assert entrypoint(env=env, cwd=tmp_path).stdout == run.stdout
    run = entrypoint("serve", env={**env, "SAGEMAKER_BIND_TO_PORT": "9090",
                                   "TANDEM_BIN": "/opt/t/tandem"}, cwd=tmp_path)
    assert run.stdout.split()[-1] == "9090" and run.stdout.split()[0] == "/opt/t/tandem"
    other = tmp_path / "other.yaml"
    shutil.copy(spec, other)
    run = entrypoint("transform", "--job", "/etc/tandem/job.json", "--resume",
                     env={**env, "TANDEM_SPEC": str(other)}, cwd=tmp_path)
    assert run.stdout.split() == ["tandem", "transform", str(other), "--job",
                                  "/etc/tandem/job.json", "--resume"]
    run = entrypoint("validate", env=env, cwd=tmp_path)
    assert run.stdout.split() == ["tandem", "validate", str(spec)]
    run = entrypoint("echo", "any", "command", env=env, cwd=tmp_path)
    assert run.stdout.split() == ["echo", "any", "command"]

    # Really run: validate the spec, and any other command as given.
    live = {k: v for k, v in env.items() if k != "TANDEM_DRY_RUN"}
    run = entrypoint("validate", env=live, cwd=tmp_path)
    assert run.returncode == 0 and "ok: endpoint 'dry'" in run.stdout, run
    run = entrypoint("sh", "-c", "echo $TANDEM_MODEL_DIR", env=live, cwd=tmp_path)
    assert run.stdout.strip() == str(model)


def test_refusals_name_what_is_wrong(tmp_path):
    base = {k: v for k, v in process_env().items() if not k.startswith(("SAGEMAKER_", "TANDEM_"))}
    empty = tmp_path / "model"
    empty.mkdir()
    run = entrypoint("serve", env={**base, "TANDEM_MODEL_DIR": str(empty)}, cwd=tmp_path)
    assert run.returncode == 2
    assert f"no pipeline spec at {empty}/pipeline.yaml" in run.stderr, run.stderr

    model = model_dir(tmp_path, {"name": "refusals", "stages": [identity("a")]})
    env = {**base, "TANDEM_MODEL_DIR": str(model)}
    run = entrypoint("serve", env={**env, "SAGEMAKER_BIND_TO_PORT": "80a"}, cwd=tmp_path)
    assert run.returncode == 2
    assert "SAGEMAKER_BIND_TO_PORT is not a port: '80a'" in run.stderr, run.stderr
    run = entrypoint("serve", env={**env, "SAGEMAKER_BIND_TO_PORT": "65536"}, cwd=tmp_path)
    assert run.returncode == 2
    run = entrypoint("train", env=env, cwd=tmp_path)
    assert run.returncode == 2 and "no training entry point" in run.stderr


def test_entrypoint_is_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (deploy/setup.sh installs it)")
    run = subprocess.run([shellcheck, str(ENTRYPOINT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
