"""What scikit-learn and xgboost answer, for test_models.py: the committed example artifacts,
read the way the stages read them, and the Python libraries' results to compare with.

Needs Debian's Python (python3-sklearn, python3-xgboost), which runs the integration tests.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from harness import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"
BREAST_CANCER = EXAMPLES / "breast-cancer"
WINE = EXAMPLES / "wine"
BYOC_SERVE = BREAST_CANCER / "byoc" / "serve"

sys.path.insert(0, str(BREAST_CANCER))
from tandem_export import export_featurizer  # noqa: E402,F401  (re-exported for the tests)

WINE_BAND_COLUMN = 1  # alcohol_band, the one text column of the wine input


@dataclass
class Example:
    folder: Path
    heldout_lines: list[str]  # heldout.csv, one row per line
    expected: list[dict]  # expected.jsonl, in row order
    text_columns: frozenset[int]  # input columns holding categories (strings)

    @property
    def heldout_body(self) -> bytes:
        return ("\n".join(self.heldout_lines) + "\n").encode()

    def featurizer(self):
        import joblib
        return joblib.load(self.folder / "model" / "byoc-featurizer" / "featurizer.joblib")

    def featurize_json(self) -> dict:
        return json.loads((self.folder / "model" / "featurize" / "featurize.json").read_text())


def load_example(folder: Path, text_columns=()) -> Example:
    lines = (folder / "heldout.csv").read_text().splitlines()
    expected = [json.loads(line) for line in (folder / "expected.jsonl").read_text().splitlines()]
    assert [e["row"] for e in expected] == list(range(len(lines))), folder
    return Example(folder, lines, expected, frozenset(text_columns))


def breast_cancer() -> Example:
    return load_example(BREAST_CANCER)


def wine() -> Example:
    return load_example(WINE, text_columns=[WINE_BAND_COLUMN])


def example_spec(folder: Path, file_name: str = "pipeline.yaml") -> dict:
    """An example's pipeline spec with its relative paths made absolute (tandem resolves them
    against the spec's folder, and the harness writes the spec into the test's tmp folder)."""
    spec = yaml.safe_load((folder / file_name).read_text())
    for stage in spec["stages"]:
        for key in ("model_dir", "working_dir"):
            if key in stage:
                stage[key] = str((folder / stage[key]).resolve())
        stage.setdefault("working_dir", str(folder))
    return spec


# --- reading CSV the way tandem-featurize does ------------------------------------------------

def is_missing(field: str) -> bool:
    return field.strip() == "" or field.strip().lower() == "nan"


def to_matrix(lines: list[str], text_columns=frozenset()) -> np.ndarray:
    """CSV lines (no quoting) as scikit-learn gets them: missing fields NaN, text columns as
    strings, other columns as floats."""
    rows = [line.split(",") for line in lines]
    out = np.empty((len(rows), len(rows[0])), dtype=object)
    for i, row in enumerate(rows):
        out[i, :] = [np.nan if is_missing(v) else v if c in text_columns else float(v)
                     for c, v in enumerate(row)]
    if not text_columns:
        return out.astype(float)
    return out


def parse_feature_csv(text: str) -> np.ndarray:
    """A featurizer's CSV answer as floats (an empty field is NaN)."""
    return np.array([[float(v) if v != "" else math.nan for v in line.split(",")]
                     for line in text.splitlines() if line != ""], dtype=float)


def predict(example: Example, lines: list[str]) -> np.ndarray:
    """The Python libraries' probabilities for `lines`: scikit-learn's transform with the
    pickled ColumnTransformer, then the committed booster (float32, as xgboost computes)."""
    import xgboost as xgb
    features = example.featurizer().transform(to_matrix(lines, example.text_columns))
    booster = xgb.Booster(params={"nthread": 1},
                          model_file=str(example.folder / "model" / "xgboost" / "model.json"))
    return booster.predict(xgb.DMatrix(np.asarray(features, dtype=float)))


# --- the answers of tandem-postprocess ---------------------------------------------------------

def predictions_from(content_type: str, body: bytes) -> list[tuple[str, float]]:
    """(label, score) per row from an answer in application/json, text/csv or
    application/jsonlines."""
    media = content_type.split(";")[0].strip()
    text = body.decode()
    if media == "application/json":
        document = json.loads(text)
        assert set(document) == {"predictions"}, document
        return [(p["label"], p["score"]) for p in document["predictions"]]
    if media == "text/csv":
        out = []
        for line in text.splitlines():
            label, score = line.split(",")
            out.append((label, float(score)))
        return out
    if media == "application/jsonlines":
        return [(p["label"], p["score"]) for p in map(json.loads, text.splitlines())]
    raise AssertionError(f"unexpected Content-Type {content_type!r}")


def compare_predictions(got: list[tuple[str, float]], expected: list[dict],
                        tolerance: float = 1e-6) -> list[str]:
    """Every difference between the endpoint's (label, score) and expected.jsonl's, one line
    per row (empty: they agree)."""
    if len(got) != len(expected):
        return [f"{len(got)} predictions for {len(expected)} rows"]
    problems = []
    for (label, score), want in zip(got, expected):
        if label != want["label"] or not abs(score - want["score"]) <= tolerance:
            problems.append(f"row {want['row']}: got ({label!r}, {score!r}), "
                            f"Python libraries ({want['label']!r}, {want['score']!r})")
    return problems
