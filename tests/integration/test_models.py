"""The example pipelines with real models (examples/breast-cancer, examples/wine): tandem serving
the C++ stages tandem-featurize, tandem-xgboost and tandem-postprocess from this build, on
the committed artifacts, must answer what scikit-learn and xgboost answer, row by row.

- breast-cancer (binary): every held-out row, in one request and one at a time, labels equal
  and scores within 1e-6 of expected.jsonl, in every Accept format;
- breast-cancer-byoc: the same pipeline with a Flask + gunicorn scikit-learn featurizer as
  stage 1 answers the same as the C++ one, row by row;
- wine (three classes, a one-hot encoded text column): labels equal, scores within 1e-6;
- tandem-featurize alone (direct mode) against scikit-learn's transform, on the held-out rows
  with values blanked and categories never seen in training, and on featurizers fitted here
  (remainder passthrough, numeric categories, scalers without mean or scale);
- bad input: 424 ModelError naming the stage, the stage's 400 message in OriginalMessage;
  a broken model file stops `tandem serve` at start-up, naming the stage and its error.

The tests never retrain: the first ones check that the committed artifacts agree with each
other (featurize.json is the export of featurizer.joblib; expected.jsonl is what the
libraries compute from them), so a stale artifact fails here rather than in the comparisons.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess

import numpy as np
import pytest

import models_reference as ref
from harness import bin_dir, pid_alive, process_env, tandem_exe, wait_until

TARGET = "X-Amzn-SageMaker-Target-Container-Hostname"
STAGE_PROGRAMS = ("tandem-featurize", "tandem-xgboost", "tandem-postprocess")
TOLERANCE = 1e-6
ONE_ROW_CASES = [0, 3, 4, 10, 113]  # 0, 3 and 10 have blanked values; 3 is a wrong answer


def require_stage_programs() -> None:
    missing = [p for p in STAGE_PROGRAMS if not (bin_dir() / p).is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not built in {bin_dir()}", pytrace=False)


@pytest.fixture(scope="module")
def bc():
    return ref.breast_cancer()


@pytest.fixture(scope="module")
def wine():
    return ref.wine()


@pytest.fixture(scope="module")
def bc_endpoint(module_tandem_factory):
    require_stage_programs()
    return module_tandem_factory(ref.example_spec(ref.BREAST_CANCER))


@pytest.fixture(scope="module")
def byoc_endpoint(module_tandem_factory):
    require_stage_programs()
    return module_tandem_factory(ref.example_spec(ref.BREAST_CANCER, "pipeline-byoc.yaml"))


@pytest.fixture(scope="module")
def wine_endpoint(module_tandem_factory):
    require_stage_programs()
    return module_tandem_factory(ref.example_spec(ref.WINE))


@pytest.fixture(scope="module")
def direct(module_tandem_factory):
    """Every C++ stage of both examples (bc-featurize, bc-model, bc-postprocess, wine-...),
    then the BYOC featurizer on each example's featurizer.joblib (bc-byoc, wine-byoc): one
    stage per request (direct mode)."""
    require_stage_programs()
    stages = []
    for prefix, folder in (("bc", ref.BREAST_CANCER), ("wine", ref.WINE)):
        for stage in ref.example_spec(folder)["stages"]:
            stage["name"] = f"{prefix}-{stage['name']}"
            stages.append(stage)
    for prefix, folder in (("bc", ref.BREAST_CANCER), ("wine", ref.WINE)):
        stages.append({"name": f"{prefix}-byoc", "command": [str(ref.BYOC_SERVE), "serve"],
                       "model_dir": str(folder / "model" / "byoc-featurizer")})
    return module_tandem_factory({"name": "models-direct", "mode": "direct", "stages": stages})


def predictions(res) -> list[tuple[str, float]]:
    assert res.status == 200, res
    return ref.predictions_from(res.header("Content-Type"), res.body)


def assert_agrees(got, expected) -> None:
    problems = ref.compare_predictions(got, expected, TOLERANCE)
    assert not problems, "\n".join(problems)


# --- the committed artifacts --------------------------------------------------------------


@pytest.mark.parametrize("example", ["bc", "wine"])
def test_featurize_json_is_the_export_of_the_pickled_featurizer(example, request):
    ex = request.getfixturevalue(example)
    committed = ex.featurize_json()
    assert ref.export_featurizer(ex.featurizer(), committed["input_columns"]) == committed


@pytest.mark.parametrize("example", ["bc", "wine"])
def test_expected_answers_are_what_the_libraries_compute(example, request):
    ex = request.getfixturevalue(example)
    probabilities = ref.predict(ex, ex.heldout_lines).tolist()
    for want, p in zip(ex.expected, probabilities, strict=True):
        if example == "bc":
            assert want["score_positive"] == p, want
            label = "malignant" if p >= 0.5 else "benign"
            assert (want["label"], want["score"]) == (label, p if label == "malignant" else 1 - p)
        else:
            assert want["probabilities"] == p, want
            assert (want["label"], want["score"]) == (f"class_{int(np.argmax(p))}", max(p)), want


def test_artifacts_are_small_and_the_model_folder_has_one_model():
    for folder in (ref.BREAST_CANCER, ref.WINE):
        assert sorted(p.name for p in (folder / "model" / "xgboost").iterdir()) == ["model.json"]
        for path in folder.rglob("*"):
            if path.is_file():
                assert path.stat().st_size < 64 * 1024, path


@pytest.mark.parametrize("spec, summary", [
    ("breast-cancer/pipeline.yaml", "endpoint 'breast-cancer', 3 stage(s): featurize model "
                                    "postprocess"),
    ("breast-cancer/pipeline-byoc.yaml", "endpoint 'breast-cancer-byoc', 3 stage(s): featurize "
                                         "model postprocess"),
    ("wine/pipeline.yaml", "endpoint 'wine', 3 stage(s): featurize model postprocess"),
])
def test_example_specs_validate(spec, summary):
    result = subprocess.run([str(tandem_exe()), "validate", f"examples/{spec}"],
                            capture_output=True, text=True, env=process_env(), cwd=ref.REPO_ROOT,
                            timeout=60)
    assert (result.returncode, result.stderr) == (0, ""), result
    first, *stages = result.stdout.splitlines()
    assert first == f"examples/{spec}: ok: {summary}"
    # Then where each stage's program resolved: an absolute file that exists.
    assert [line.split(":")[0].strip() for line in stages] == summary.split(": ")[1].split()
    for line in stages:
        match = re.fullmatch(r"  \S+: (\S+) -> (/\S+) \((beside tandem|PATH|in working_dir)\)", line)
        assert match, line
        assert os.access(match.group(2), os.X_OK), line


# --- (1) breast-cancer through the C++ stages ------------------------------------------------


@pytest.mark.parametrize("accept", [None, "application/json", "text/csv",
                                    "application/jsonlines"])
def test_breast_cancer_every_heldout_row_in_one_request(bc_endpoint, bc, accept):
    headers = {"Accept": accept} if accept else {}
    res = bc_endpoint.invoke(bc.heldout_body, "text/csv", headers=headers)
    assert res.status == 200, res
    media = (accept or "application/json")
    assert res.header("Content-Type").split(";")[0] == media, res
    assert_agrees(predictions(res), bc.expected)


@pytest.mark.parametrize("row", ONE_ROW_CASES)
def test_breast_cancer_one_row_requests(bc_endpoint, bc, row):
    res = bc_endpoint.invoke(bc.heldout_lines[row].encode(), "text/csv")
    assert_agrees(predictions(res), [bc.expected[row]])
    # The same row without a final newline and with one: CSV readers must not care.
    res = bc_endpoint.invoke(bc.heldout_lines[row].encode() + b"\n", "text/csv",
                             headers={"Accept": "text/csv"})
    assert_agrees(predictions(res), [bc.expected[row]])


def test_breast_cancer_through_the_endpoint_path(bc_endpoint, bc):
    res = bc_endpoint.invoke(bc.heldout_body, "text/csv",
                             path="/endpoints/breast-cancer/invocations")
    assert_agrees(predictions(res), bc.expected)


@pytest.mark.parametrize("example, rows", [("bc", [1, 4]), ("wine", [0, 9])])
def test_readme_curl_example(request, example, rows):
    """The README's curl example sends held-out rows and shows the endpoint's exact answer."""
    ex = request.getfixturevalue(example)
    endpoint = request.getfixturevalue(f"{example}_endpoint")
    readme = (ex.folder / "README.md").read_text()
    match = re.search(r"--data-binary \$'([^']*)' http://localhost:8080/invocations\n(.*)\n",
                      readme)
    assert match, f"no curl example in {ex.folder / 'README.md'}"
    body = match.group(1).replace("\\n", "\n")
    assert body.split("\n") == [ex.heldout_lines[r] for r in rows]
    res = endpoint.invoke(body.encode(), "text/csv")
    assert res.status == 200, res
    assert res.body.decode() == match.group(2)
    assert_agrees(predictions(res), [ex.expected[r] for r in rows])


# --- (2) the BYOC featurizer instead of tandem-featurize -------------------------------------


def test_byoc_pipeline_answers_as_the_cpp_one(bc_endpoint, byoc_endpoint, bc):
    cpp = predictions(bc_endpoint.invoke(bc.heldout_body, "text/csv"))
    byoc = predictions(byoc_endpoint.invoke(bc.heldout_body, "text/csv"))
    assert_agrees(byoc, bc.expected)
    assert [label for label, _ in byoc] == [label for label, _ in cpp]
    differences = [f"row {i}: C++ {c} BYOC {b}" for i, (c, b) in enumerate(zip(cpp, byoc))
                   if abs(c[1] - b[1]) > TOLERANCE]
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("row", ONE_ROW_CASES)
def test_byoc_one_row_requests(byoc_endpoint, bc, row):
    res = byoc_endpoint.invoke(bc.heldout_lines[row].encode(), "text/csv",
                               headers={"Accept": "application/jsonlines"})
    assert_agrees(predictions(res), [bc.expected[row]])


def test_byoc_featurizer_answers_text_csv_with_charset(byoc_endpoint, direct, bc):
    """The Flask featurizer answers `text/csv; charset=utf-8`, which reaches tandem-xgboost
    verbatim (no content_type override in pipeline-byoc.yaml) and is accepted."""
    alone = direct.invoke(bc.heldout_lines[0].encode(), "text/csv", headers={TARGET: "bc-byoc"})
    assert alone.status == 200, alone
    assert alone.header("Content-Type") == "text/csv; charset=utf-8", alone
    spec = ref.example_spec(ref.BREAST_CANCER, "pipeline-byoc.yaml")
    assert "content_type" not in spec["stages"][1]
    res = byoc_endpoint.invoke(bc.heldout_lines[0].encode(), "text/csv")
    assert_agrees(predictions(res), [bc.expected[0]])


# --- (3) wine, three classes ------------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "text/csv", "application/jsonlines"])
def test_wine_every_heldout_row(wine_endpoint, wine, accept):
    headers = {"Accept": accept} if accept else {}
    res = wine_endpoint.invoke(wine.heldout_body, "text/csv", headers=headers)
    assert_agrees(predictions(res), wine.expected)


@pytest.mark.parametrize("row", [2, 9, 17, 30])  # blank band, unseen band, blank number, "nan"
def test_wine_one_row_requests(wine_endpoint, wine, row):
    res = wine_endpoint.invoke(wine.heldout_lines[row].encode(), "text/csv")
    assert_agrees(predictions(res), [wine.expected[row]])


def test_wine_model_stage_answers_three_probabilities(direct, wine):
    """tandem-xgboost alone, on scikit-learn's features: every class probability."""
    features = wine.featurizer().transform(ref.to_matrix(wine.heldout_lines, wine.text_columns))
    body = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in features)
    res = direct.invoke(body.encode(), "text/csv", headers={TARGET: "wine-model"})
    assert res.status == 200, res
    got = ref.parse_feature_csv(res.body.decode())
    want = np.array([e["probabilities"] for e in wine.expected])
    assert got.shape == want.shape, res
    worst = np.abs(got - want).max()
    assert worst <= TOLERANCE, f"largest difference {worst}"


# --- (4) tandem-featurize alone against scikit-learn's transform ------------------------------


def featurize(direct, stage: str, lines: list[str]) -> np.ndarray:
    res = direct.invoke(("\n".join(lines) + "\n").encode(), "text/csv", headers={TARGET: stage})
    assert res.status == 200, res
    assert res.header("Content-Type").split(";")[0] == "text/csv", res
    return ref.parse_feature_csv(res.body.decode())


def assert_same_features(got: np.ndarray, want: np.ndarray) -> None:
    """Equal to the last bit (both compute (x - mean) / scale in doubles and the stage writes
    each double's shortest exact text); NaN (an empty field from the stage) equals NaN."""
    want = np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    rows, cols = np.nonzero(~same)
    details = [f"row {r}, feature {c}: stage {got[r, c]!r}, scikit-learn {want[r, c]!r}"
               for r, c in zip(rows[:20], cols[:20])]
    assert same.all(), f"{len(rows)} features differ:\n" + "\n".join(details)


def perturbed(lines: list[str], seed: int, text_column: int | None = None,
              bands=("low", "mid", "high")) -> list[str]:
    """The rows with about one field in eight made missing (empty, "nan", "NaN", a space) and,
    in the text column, categories seen in training or not ("LOW": case matters)."""
    rng = np.random.default_rng(seed)
    out = []
    for line in lines:
        fields = line.split(",")
        for c in range(len(fields)):
            if rng.random() < 0.125:
                fields[c] = ["", "nan", "NaN", " "][rng.integers(4)]
            elif c == text_column:
                fields[c] = [*bands, "unrated", "LOW", "medium", "missing"][rng.integers(
                    len(bands) + 4)]
        out.append(",".join(fields))
    return out


def test_featurize_breast_cancer_heldout(direct, bc):
    got = featurize(direct, "bc-featurize", bc.heldout_lines)
    assert_same_features(got, bc.featurizer().transform(ref.to_matrix(bc.heldout_lines)))


def test_featurize_breast_cancer_missing_values(direct, bc):
    lines = perturbed(bc.heldout_lines, seed=1)
    got = featurize(direct, "bc-featurize", lines)
    assert_same_features(got, bc.featurizer().transform(ref.to_matrix(lines)))


def test_featurize_wine_heldout(direct, wine):
    got = featurize(direct, "wine-featurize", wine.heldout_lines)
    want = wine.featurizer().transform(ref.to_matrix(wine.heldout_lines, wine.text_columns))
    assert_same_features(got, want)
    # Row 9's band "unrated" was never seen in training: all four band features are 0.
    assert got[9, -4:].tolist() == [0, 0, 0, 0]
    # Rows 2 and 30 have no band: imputed as "missing", the last category.
    assert got[2, -4:].tolist() == got[30, -4:].tolist() == [0, 0, 0, 1]


def test_featurize_wine_missing_values_and_unseen_categories(direct, wine):
    lines = perturbed(wine.heldout_lines * 3, seed=2, text_column=ref.WINE_BAND_COLUMN)
    got = featurize(direct, "wine-featurize", lines)
    want = wine.featurizer().transform(ref.to_matrix(lines, wine.text_columns))
    assert_same_features(got, want)
    assert (got[:, -4:].sum(axis=1) == 0).any(), "no unseen category was sent"


@pytest.mark.parametrize("example", ["bc", "wine"])
def test_byoc_featurizer_and_tandem_featurize_agree(direct, example, request):
    """The Flask featurizer (scikit-learn itself) and tandem-featurize, feature by feature."""
    ex = request.getfixturevalue(example)
    column = ref.WINE_BAND_COLUMN if example == "wine" else None
    lines = ex.heldout_lines + perturbed(ex.heldout_lines, seed=4, text_column=column)
    assert_same_features(featurize(direct, f"{example}-featurize", lines),
                         featurize(direct, f"{example}-byoc", lines))


# Featurizers fitted here, to cover what the examples do not use: numeric categories,
# remainder passthrough (missing values pass through as missing), a scaler without mean or
# without scale, most_frequent and constant imputers, handle_unknown="error".
def synthetic_featurizers():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(3)
    n = 80
    columns = ["x", "code", "color", "y", "z"]
    train = np.empty((n, 5), dtype=object)
    train[:, 0] = rng.normal(40, 12, n)
    train[:, 1] = rng.integers(1, 4, n).astype(float)
    train[:, 2] = rng.choice(["blue", "green", "red"], n)
    train[:, 3] = rng.normal(0.001, 0.0002, n)
    train[:, 4] = rng.uniform(-5, 5, n)
    train[::9, 0] = np.nan
    train[::7, 2] = np.nan
    first = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="mean")),
                          ("scale", StandardScaler(with_mean=False))]), [0]),
        ("codes", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                            ("onehot", OneHotEncoder(handle_unknown="ignore",
                                                     sparse_output=False))]), [1]),
        ("colors", Pipeline([("impute", SimpleImputer(strategy="constant",
                                                      fill_value="missing")),
                             ("onehot", OneHotEncoder(handle_unknown="ignore",
                                                      sparse_output=False))]), [2]),
    ], remainder="passthrough")
    second = ColumnTransformer([
        ("z", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=0.0)),
                        ("scale", StandardScaler(with_std=False))]), [4, 0]),
        ("colors", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                             ("onehot", OneHotEncoder(handle_unknown="error",
                                                      sparse_output=False))]), [2]),
    ], remainder="drop")
    return columns, train, {"passthrough": first.fit(train), "strict": second.fit(train)}


SYNTHETIC_ROWS = [
    "41.5,2,red,0.0011,3.25",
    ",3,blue,,-1.5",          # missing x (imputed mean), missing y (passed through missing)
    "nan,1,,1e-05,0",         # missing color: "missing" for the first, most frequent for 2nd
    "12.25,2.0,green,-0.5,",  # "2.0" is category 2; missing z
    "100,7,green,2,4.75",     # code 7 never seen: ignored
    "-3.5e1,1,blue,0,1e-3",
]


def synthetic_matrix(lines: list[str]) -> np.ndarray:
    return ref.to_matrix(lines, text_columns={2})


@pytest.fixture(scope="module")
def synthetic(module_tandem_factory, tmp_path_factory):
    """tandem-featurize on each synthetic featurizer's export, in direct mode."""
    require_stage_programs()
    columns, _, fitted = synthetic_featurizers()
    stages = []
    for name, transformer in fitted.items():
        folder = tmp_path_factory.mktemp(f"featurizer-{name}")
        spec = ref.export_featurizer(transformer, columns)
        (folder / "featurize.json").write_text(json.dumps(spec))
        stages.append({"name": name, "command": ["tandem-featurize", "serve"],
                       "model_dir": str(folder)})
    endpoint = module_tandem_factory({"name": "featurize-synthetic", "mode": "direct",
                                      "stages": stages})
    return endpoint, fitted


def test_featurize_synthetic_featurizers(synthetic):
    endpoint, fitted = synthetic
    for name, transformer in fitted.items():
        lines = SYNTHETIC_ROWS if name == "passthrough" else SYNTHETIC_ROWS[:4]
        got = featurize(endpoint, name, lines)
        assert_same_features(got, transformer.transform(synthetic_matrix(lines)))
    # passthrough: the remainder (y, z) comes last, as given; a missing y stays missing.
    got = featurize(endpoint, "passthrough", SYNTHETIC_ROWS[:2])
    assert got[0, -2:].tolist() == [0.0011, 3.25] and math.isnan(got[1, -2])


def test_featurize_unknown_category_with_handle_unknown_error(synthetic):
    endpoint, fitted = synthetic
    with pytest.raises(ValueError, match="unknown categor"):
        fitted["strict"].transform(synthetic_matrix(["1,1,purple,0,0"]))
    res = endpoint.invoke(b"1,1,red,0,0\n1,1,purple,0,0\n", "text/csv", headers={TARGET: "strict"})
    body = assert_model_error(res, "featurize-synthetic", "strict", 2)
    assert "row 2" in body["OriginalMessage"] and "purple" in body["OriginalMessage"], body


# --- (5) bad input and broken models ----------------------------------------------------------


def assert_model_error(res, endpoint: str, stage: str, container: int, status: int = 400) -> dict:
    """A 424 ModelError for `stage`'s `status` answer, its message quoted in the Message."""
    assert res.status == 424, res
    assert res.header("x-amzn-ErrorType") == "ModelError", res
    body = res.json()
    original = body.get("OriginalMessage")
    assert original, body
    assert body["Message"] == (
        f"Received client error ({status}) from container-{container} (stage '{stage}') with "
        f'message "{original}". See the log of endpoint \'{endpoint}\', lines prefixed '
        f"'{stage} |' for more information."), body
    assert body["OriginalStatusCode"] == status, body
    assert body["Stage"] == stage and body["Container"] == f"container-{container}", body
    return body


def bad_rows(bc) -> dict[str, tuple[bytes, list[str]]]:
    """Request bodies the featurizer must refuse, with words its message must contain."""
    good = bc.heldout_lines[1]
    fields = good.split(",")
    return {
        "29 columns": (f"{good}\n{','.join(fields[:-1])}\n".encode(), ["row 2", "30", "29"]),
        "31 columns": (f"{good},1.5\n".encode(), ["row 1", "30", "31"]),
        "a word": (f"{good}\n{good}\n{','.join(fields[:5] + ['abc'] + fields[6:])}\n".encode(),
                   ["row 3", "column 5", "abc"]),
        "a unit": (",".join(["12.5mm"] + fields[1:]).encode(), ["row 1", "column 0", "12.5mm"]),
        "open quote": (f'"{good}\n'.encode(), []),
        "empty": (b"", []),
    }


@pytest.mark.parametrize("case", ["29 columns", "31 columns", "a word", "a unit", "open quote",
                                  "empty"])
def test_bad_rows_are_model_errors_naming_featurize(bc_endpoint, bc, case):
    body, words = bad_rows(bc)[case]
    res = bc_endpoint.invoke(body, "text/csv")
    error = assert_model_error(res, "breast-cancer", "featurize", 1)
    for word in words:
        assert word in error["OriginalMessage"], (word, error)


@pytest.mark.parametrize("case", ["29 columns", "a word"])
def test_bad_rows_in_the_byoc_featurizer(byoc_endpoint, bc, case):
    body, _ = bad_rows(bc)[case]
    error = assert_model_error(byoc_endpoint.invoke(body, "text/csv"), "breast-cancer-byoc",
                               "featurize", 1)
    assert error["OriginalMessage"].startswith("invalid input: "), error


def test_wine_text_in_a_numeric_column(wine_endpoint, wine):
    fields = wine.heldout_lines[0].split(",")
    fields[3] = "low"
    res = wine_endpoint.invoke((",".join(fields) + "\n").encode(), "text/csv")
    error = assert_model_error(res, "wine", "featurize", 1)
    assert "row 1" in error["OriginalMessage"] and "low" in error["OriginalMessage"], error


# Direct-mode stages: bc-featurize, bc-model, bc-postprocess, wine-featurize, wine-model, ...
@pytest.mark.parametrize("stage, container, body, words", [
    ("bc-model", 2, b"1,2,3\n", ["30", "3"]),          # too few features for the booster
    ("bc-model", 2, b"0.5," * 29 + b"x\n", ["x"]),      # not a number
    ("bc-postprocess", 3, b"0.2\nhigh\n", ["row 2", "high"]),
    ("wine-postprocess", 6, b"0.2,0.8\n", ["3", "2"]),  # two probabilities for three labels
])
def test_model_and_postprocess_stages_refuse_bad_rows(direct, stage, container, body, words):
    res = direct.invoke(body, "text/csv", headers={TARGET: stage})
    error = assert_model_error(res, "models-direct", stage, container)
    for word in words:
        assert word in error["OriginalMessage"], (word, error)


def failed_start(tandem_factory, spec: dict) -> tuple[int, str]:
    tandem = tandem_factory.launch(spec)
    tandem.expected_exit = None
    code = tandem.wait_exit(60)
    log = tandem.log()
    assert "serving on" not in log, log
    pids = tandem.stage_pids()
    wait_until(lambda: not any(pid_alive(p) for p in pids.values()), 10,
               f"stage processes {pids} to be gone")
    match = re.search(r"ERROR start-up failed: (.*(?:\n    \|.*)*)", log)
    assert match, f"no 'start-up failed' line in:\n{log}"
    return code, match.group(1)


BROKEN_MODELS = {
    # stage index, file name, content (None: the folder is empty), words of the stage's error
    "truncated booster": (1, "model.json", '{"learner": {"attributes": {}, "gradient_booster":',
                          ["model.json"]),
    "booster is not JSON": (1, "model.json", "this is not a model\n", ["model.json"]),
    "no booster": (1, None, None, ["xgboost-model"]),
    "featurize.json not JSON": (0, "featurize.json", "{format: 1", ["featurize.json"]),
    "featurize.json wrong format": (0, "featurize.json", json.dumps(
        {"format": "tandem-featurize/9", "n_input_columns": 1, "transformers": [],
         "remainder": "passthrough"}), ["featurize.json", "tandem-featurize/9"]),
    "postprocess.json without labels": (2, "postprocess.json", json.dumps(
        {"format": "tandem-postprocess/1", "mode": "threshold", "threshold": 0.5}),
        ["postprocess.json", "labels"]),
}


@pytest.mark.parametrize("case", list(BROKEN_MODELS))
def test_broken_model_stops_start_up_naming_the_stage(tandem_factory, tmp_path, case):
    require_stage_programs()
    index, file_name, content, words = BROKEN_MODELS[case]
    spec = ref.example_spec(ref.BREAST_CANCER)
    broken = tmp_path / "broken-model"
    broken.mkdir()
    if file_name is not None:
        (broken / file_name).write_text(content)
    spec["stages"][index]["model_dir"] = str(broken)
    stage = spec["stages"][index]["name"]
    code, message = failed_start(tandem_factory, spec)
    assert code == 1, message
    first, *tail = message.split("\n")
    assert first.startswith(f"stage '{stage}' (container-{index + 1}) exited with status "), message
    assert first.endswith("during start-up; its last lines:"), message
    stage_lines = "\n".join(tail)
    assert STAGE_PROGRAMS[index] in stage_lines, message
    assert str(broken) in stage_lines, message
    for word in words:
        assert word in stage_lines, (word, message)
