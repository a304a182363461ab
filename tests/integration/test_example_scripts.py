"""examples/breast-cancer-scripts: the breast-cancer pipeline written as SageMaker framework
scripts (code/featurizer.py, code/xgboost_model.py, code/postprocess.py) and served by three
tandem-python stages from the committed model.tar.gz archives, must answer what
examples/breast-cancer answers (its expected.jsonl: labels equal, scores within 1e-6):

- the archives hold breast-cancer's models, and train.py rewrites them byte for byte;
- every held-out row in one request (each Accept) and one row per request, over HTTP and with
  all three stages on the shared-memory ring (`transport: shm`);
- what passes between the stages: the featurizer's text/csv, the XGBoost container's default
  application/json list (each stage called alone, in direct mode);
- boto3's invoke_endpoint; a transform job over heldout.csv split by line; a capture of the
  C++ pipeline (../breast-cancer) replayed through the scripts with every answer matching;
- the example's README: its curl and boto3 examples print what it shows.
"""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile

import boto3
import joblib
import numpy as np
import pytest
from botocore.config import Config

import models_reference as ref
from capture_support import records, run_replay
from harness import bin_dir, process_env, tandem_exe
from transform_support import run_transform

SCRIPTS = ref.EXAMPLES / "breast-cancer-scripts"
NAME = "breast-cancer-scripts"
TARGET = "X-Amzn-SageMaker-Target-Container-Hostname"
TOLERANCE = 1e-6
ARCHIVES = {"featurize": ["model.joblib"], "xgboost": ["xgboost-model"],
            "postprocess": ["config.json"]}


def require_programs(*programs: str) -> None:
    missing = [p for p in programs if not (bin_dir() / p).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not built in {bin_dir()}", pytrace=False)


def scripts_spec(transport: str = "http", mode: str | None = None) -> dict:
    spec = ref.example_spec(SCRIPTS)
    for stage in spec["stages"]:
        if transport != "http":
            stage["transport"] = transport
    if mode:
        spec["mode"] = mode
    return spec


@pytest.fixture(scope="module")
def bc():
    return ref.breast_cancer()


@pytest.fixture(scope="module", params=["http", "shm"])
def endpoint(request, module_tandem_factory):
    require_programs("tandem-python")
    return module_tandem_factory(scripts_spec(request.param))


@pytest.fixture(scope="module")
def http_endpoint(module_tandem_factory):
    require_programs("tandem-python")
    return module_tandem_factory(scripts_spec())


@pytest.fixture(scope="module")
def direct(module_tandem_factory):
    require_programs("tandem-python")
    spec = scripts_spec(mode="direct")
    spec["name"] = f"{NAME}-direct"
    return module_tandem_factory(spec)


def predictions(res) -> list[tuple[str, float]]:
    assert res.status == 200, res
    return ref.predictions_from(res.header("Content-Type"), res.body)


def assert_agrees(got, expected) -> None:
    problems = ref.compare_predictions(got, expected, TOLERANCE)
    assert not problems, "\n".join(problems)


def archive_members(stage: str) -> dict[str, bytes]:
    with tarfile.open(SCRIPTS / "model" / stage / "model.tar.gz", "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


# --- the committed archives --------------------------------------------------------------------


def test_archives_hold_the_breast_cancer_models(bc):
    for stage, names in ARCHIVES.items():
        assert sorted(archive_members(stage)) == names, stage
        assert (SCRIPTS / "model" / stage / "model.tar.gz").stat().st_size < 64 * 1024
    booster = archive_members("xgboost")["xgboost-model"]
    assert booster == (ref.BREAST_CANCER / "model" / "xgboost" / "model.json").read_bytes()
    featurizer = joblib.load(io.BytesIO(archive_members("featurize")["model.joblib"]))
    matrix = ref.to_matrix(bc.heldout_lines)
    assert np.array_equal(featurizer.transform(matrix), bc.featurizer().transform(matrix))
    assert json.loads(archive_members("postprocess")["config.json"]) == {
        "threshold": 0.5, "labels": ["benign", "malignant"]}


def test_train_rewrites_the_archives_byte_for_byte(tmp_path):
    """train.py in a copy of both examples: the same archives, and gzip and tar headers that
    hold no time of the run."""
    copy = tmp_path / "examples"
    shutil.copytree(ref.BREAST_CANCER, copy / "breast-cancer",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "breast-cancer-scripts").mkdir()
    shutil.copy(SCRIPTS / "train.py", copy / "breast-cancer-scripts" / "train.py")
    result = subprocess.run([sys.executable, "train.py"], cwd=copy / "breast-cancer-scripts",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result
    for stage in ARCHIVES:
        written = (copy / "breast-cancer-scripts" / "model" / stage / "model.tar.gz").read_bytes()
        committed = (SCRIPTS / "model" / stage / "model.tar.gz").read_bytes()
        assert written == committed, f"model/{stage}/model.tar.gz differs from the committed one"
        assert written[4:8] == b"\0\0\0\0", "gzip header holds a time"


# --- the endpoint, over HTTP and shared memory -------------------------------------------------


@pytest.mark.parametrize("accept", [None, "application/json", "application/jsonlines",
                                    "text/csv"])
def test_every_heldout_row_in_one_request(endpoint, bc, accept):
    headers = {"Accept": accept} if accept else {}
    res = endpoint.invoke(bc.heldout_body, "text/csv", headers=headers)
    assert res.status == 200, res
    assert res.header("Content-Type").split(";")[0] == (accept or "application/json"), res
    assert_agrees(predictions(res), bc.expected)


def test_every_heldout_row_one_per_request(endpoint, bc):
    problems = []
    for row, line in enumerate(bc.heldout_lines):
        body = line.encode() + (b"\n" if row % 2 else b"")  # a final newline or not
        res = endpoint.invoke(body, "text/csv", headers={"Accept": "application/jsonlines"})
        assert res.status == 200, (row, res)
        assert res.header("Content-Type") == "application/jsonlines", res
        problems += ref.compare_predictions(predictions(res), [bc.expected[row]], TOLERANCE)
    assert not problems, "\n".join(problems)


def test_json_answer_is_compact(endpoint, bc):
    res = endpoint.invoke(bc.heldout_lines[1].encode(), "text/csv")
    assert res.header("Content-Type") == "application/json", res
    assert res.body == b'{"predictions":[{"label":"malignant","score":0.8615021109580994}]}'


def test_a_bad_row_is_a_model_error_naming_the_featurizer(endpoint, bc):
    """input_fn's ValueError: the scikit-learn container answers 500, the endpoint a 424
    ModelError naming the stage, with the script's message; the next request is served."""
    fields = bc.heldout_lines[0].split(",")
    fields[4] = "smooth"
    res = endpoint.invoke(",".join(fields).encode(), "text/csv")
    assert res.status == 424, res
    assert res.header("x-amzn-ErrorType") == "ModelError", res
    body = res.json()
    assert (body["Stage"], body["OriginalStatusCode"]) == ("featurize", 500), body
    assert "row 1, column 4: expected a number, got 'smooth'" in body["OriginalMessage"], body
    assert endpoint.invoke(bc.heldout_lines[0].encode(), "text/csv").status == 200


# --- what passes between the stages ------------------------------------------------------------


def test_the_stages_answer_what_the_next_one_reads(direct, bc):
    """Each stage alone (direct mode, no Accept, as inside the pipeline): the featurizer answers
    its SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, text/csv without a final newline; the XGBoost
    container's defaults answer application/json, a list of P(malignant)."""
    features = direct.invoke(bc.heldout_body, "text/csv", headers={TARGET: "featurize"})
    assert features.status == 200, features
    assert features.header("Content-Type") == "text/csv; charset=utf-8", features
    assert not features.body.endswith(b"\n")
    got = ref.parse_feature_csv(features.body.decode())
    assert np.array_equal(got, bc.featurizer().transform(ref.to_matrix(bc.heldout_lines)))

    scores = direct.invoke(features.body, features.header("Content-Type"),
                           headers={TARGET: "model"})
    assert scores.status == 200, scores
    assert scores.header("Content-Type") == "application/json", scores
    assert json.loads(scores.body) == [e["score_positive"] for e in bc.expected]

    answer = direct.invoke(scores.body, "application/json", headers={TARGET: "postprocess"})
    assert_agrees(predictions(answer), bc.expected)


# --- clients, batch transform, capture and replay ---------------------------------------------


def test_boto3_invoke_endpoint(http_endpoint, bc, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x",
                                    region_name="us-east-1")
    runtime = session.client("sagemaker-runtime", endpoint_url=http_endpoint.base_url,
                             config=Config(retries={"total_max_attempts": 1}))
    response = runtime.invoke_endpoint(EndpointName=NAME, ContentType="text/csv",
                                       Body="\n".join(bc.heldout_lines[:5]))
    assert response["ContentType"] == "application/json"
    assert_agrees(ref.predictions_from("application/json", response["Body"].read()),
                  bc.expected[:5])


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_transform_job_over_the_heldout_rows(tmp_path, bc, strategy):
    require_programs("tandem-python")
    output = tmp_path / "out"
    job = run_transform(tmp_path, scripts_spec(), "--input", str(bc.folder / "heldout.csv"),
                        "--output", str(output), "--content-type", "text/csv",
                        "--split-type", "Line", "--strategy", strategy,
                        "--accept", "application/jsonlines", "--assemble-with", "Line")
    assert job.returncode == 0, job.log
    lines = (output / "heldout.csv.out").read_text().splitlines()
    got = [(p["label"], p["score"]) for p in map(json.loads, lines)]
    assert_agrees(got, bc.expected)


def test_capture_of_the_cpp_pipeline_replays_through_the_scripts(tandem_factory, tmp_path, bc):
    """The traffic of examples/breast-cancer (C++ stages), captured with each stage's output,
    replayed through the scripts: every answer matches."""
    require_programs("tandem-python", "tandem-featurize", "tandem-xgboost", "tandem-postprocess")
    capture = tmp_path / "capture"
    spec = ref.example_spec(ref.BREAST_CANCER, "pipeline-capture.yaml")
    spec["capture"]["destination"] = str(capture)
    cpp = tandem_factory(spec)
    accepts = [None, "application/json", "application/jsonlines", "text/csv"]
    for row in range(20):
        accept = accepts[row % len(accepts)]
        res = cpp.invoke(bc.heldout_lines[row].encode(), "text/csv",
                         headers={"Accept": accept} if accept else {})
        assert res.status == 200, res
    res = cpp.invoke(bc.heldout_body, "text/csv")
    assert res.status == 200, res
    assert cpp.terminate() == 0
    assert len(records(capture)) == 21

    replay = run_replay(tmp_path, scripts_spec(), "--capture", str(capture))
    assert replay.returncode == 0, replay
    assert replay.stdout.splitlines()[-1] == \
        "replay: 21 event(s): 21 matched, 0 differed, 0 failed", replay


def test_example_spec_validates():
    require_programs("tandem-python")
    result = subprocess.run([str(tandem_exe()), "validate", "examples/breast-cancer-scripts/"
                             "pipeline.yaml"], capture_output=True, text=True,
                            env=process_env(), cwd=ref.REPO_ROOT, timeout=60)
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout.splitlines()[0] == (
        "examples/breast-cancer-scripts/pipeline.yaml: ok: endpoint 'breast-cancer-scripts', "
        "3 stage(s): featurize model postprocess")


def test_readme_curl_example(http_endpoint, bc):
    """The README's curl example sends held-out rows 1 and 4 and shows the exact answer."""
    readme = (SCRIPTS / "README.md").read_text()
    match = re.search(r"--data-binary \$'([^']*)' http://localhost:8080/invocations\n(.*)\n",
                      readme)
    assert match, f"no curl example in {SCRIPTS / 'README.md'}"
    body = match.group(1).replace("\\n", "\n")
    assert body.split("\n") == [bc.heldout_lines[1], bc.heldout_lines[4]]
    res = http_endpoint.invoke(body.encode(), "text/csv")
    assert res.status == 200, res
    assert res.body.decode() == match.group(2)


def test_readme_boto3_example(http_endpoint, tmp_path):
    """The README's boto3 block, run against the endpoint, prints what the README shows."""
    readme = (SCRIPTS / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```\n\n```text\n(.*?)```", readme, re.DOTALL)
    assert match, f"no boto3 example in {SCRIPTS / 'README.md'}"
    code = match.group(1).replace("http://localhost:8080", http_endpoint.base_url)
    env = process_env(AWS_CONFIG_FILE=str(tmp_path / "none"),
                      AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                      AWS_EC2_METADATA_DISABLED="true")
    result = subprocess.run([sys.executable, "-c", code], cwd=ref.REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout == match.group(2)
