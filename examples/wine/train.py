#!/usr/bin/python3
"""Trains the wine demo (three classes) and writes the artifacts tandem serves and tests check.

Run with Debian's Python (python3-sklearn, python3-xgboost):  /usr/bin/python3 train.py

Data: scikit-learn's copy of the UCI wine data set (178 rows, 13 numeric features, classes
class_0, class_1, class_2). To serve a model with a categorical input, every row gets one
**derived** column, `alcohol_band`, placed right after `alcohol`: "low", "mid" or "high" by the
tertiles of alcohol in the training rows (computed once here and frozen into the rows, so the
band is data the client sends, not something the pipeline computes). To exercise imputation,
the band is blanked in every 12th training row and in a few held-out rows; one held-out row
carries the band "unrated", a value never seen in training, which OneHotEncoder(
handle_unknown="ignore") encodes as all zeros (tandem-featurize too).

Input columns (14): alcohol, alcohol_band, malic_acid, ..., proline. Features (20): the 13
numeric columns imputed (median) and standardised, then the band one-hot encoded over
["high", "low", "mid", "missing"] (a blank band is imputed as "missing").

Written next to this file:

  model/featurize/featurize.json       the fitted ColumnTransformer, for tandem-featurize
  model/xgboost/model.json             the booster (JSON, multi:softprob), for tandem-xgboost
  model/postprocess/postprocess.json   argmax over class_0..class_2, for tandem-postprocess
  model/byoc-featurizer/featurizer.joblib  the same ColumnTransformer, pickled (the tests
                                       compare tandem-featurize with scikit-learn through it;
                                       ../breast-cancer/byoc/ can serve it)
  heldout.csv                          the held-out rows (no header, no target)
  expected.jsonl                       per held-out row, what scikit-learn + xgboost answer
"""
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_wine
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "breast-cancer"))
from tandem_export import write_artifacts  # noqa: E402

DATA = Path("/usr/lib/python3/dist-packages/sklearn/datasets/data/wine_data.csv")
SEED = 7
LABELS = ["class_0", "class_1", "class_2"]
BAND = 1  # index of alcohol_band among the input columns
# Held-out edits: (row, column, new text). Blank = missing; "unrated" = an unseen category.
HELDOUT_EDITS = [(2, BAND, ""), (9, BAND, "unrated"), (17, 6, ""), (30, BAND, "nan")]


def read_data():
    with open(DATA, newline="") as f:
        rows = list(csv.reader(f))
    n_rows, n_features, *names = rows[0]
    assert names == LABELS, names
    rows = rows[1:]
    assert len(rows) == int(n_rows) and all(len(r) == int(n_features) + 1 for r in rows)
    return [r[:-1] for r in rows], np.array([int(r[-1]) for r in rows])


def band(alcohol: float, cuts) -> str:
    return "low" if alcohol < cuts[0] else "mid" if alcohol < cuts[1] else "high"


def with_band(fields, cuts):
    """The rows with alcohol_band inserted after alcohol."""
    return [[r[0], band(float(r[0]), cuts), *r[1:]] for r in fields]


def to_matrix(fields) -> np.ndarray:
    """Text fields as scikit-learn gets them: numbers as floats, the band as a string, an
    empty field or "nan" as NaN (a missing value)."""
    def value(text, column):
        if text in ("", "nan"):
            return np.nan
        return text if column == BAND else float(text)
    out = np.empty((len(fields), len(fields[0])), dtype=object)
    for i, row in enumerate(fields):
        out[i, :] = [value(v, c) for c, v in enumerate(row)]
    return out


def main() -> None:
    fields, y = read_data()
    names = [str(n) for n in load_wine().feature_names]
    input_columns = [names[0], "alcohol_band", *names[1:]]
    train_idx, heldout_idx = train_test_split(np.arange(len(fields)), test_size=0.25,
                                              stratify=y, random_state=SEED)
    heldout_idx = np.sort(heldout_idx)
    cuts = np.quantile([float(fields[i][0]) for i in train_idx], [1 / 3, 2 / 3]).tolist()
    train_fields = with_band([fields[i] for i in train_idx], cuts)
    for i in range(0, len(train_fields), 12):
        train_fields[i][BAND] = ""
    heldout_fields = with_band([fields[i] for i in heldout_idx], cuts)
    for row, col, text in HELDOUT_EDITS:
        heldout_fields[row][col] = text

    numeric = [c for c in range(len(input_columns)) if c != BAND]
    featurizer = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                          ("scale", StandardScaler())]), numeric),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore",
                                                   sparse_output=False))]), [BAND]),
    ], remainder="drop")
    x_train = featurizer.fit_transform(to_matrix(train_fields))
    classifier = xgb.XGBClassifier(n_estimators=15, max_depth=2, learning_rate=0.3,
                                   objective="multi:softprob", tree_method="exact",
                                   random_state=SEED, n_jobs=1)
    classifier.fit(x_train, y[train_idx])

    model = HERE / "model"
    booster_path = write_artifacts(model, featurizer, input_columns, classifier,
                                   {"mode": "argmax", "labels": LABELS})

    heldout_lines = [",".join(row) for row in heldout_fields]
    (HERE / "heldout.csv").write_text("\n".join(heldout_lines) + "\n")
    features = featurizer.transform(to_matrix(heldout_fields))
    booster = xgb.Booster(params={"nthread": 1}, model_file=str(booster_path))
    probabilities = booster.predict(xgb.DMatrix(features))
    assert np.array_equal(probabilities, classifier.predict_proba(features).astype(np.float32))
    correct = 0
    with open(HERE / "expected.jsonl", "w") as out:
        for i, probs in enumerate(probabilities.tolist()):
            best = int(np.argmax(probs))
            truth = LABELS[y[heldout_idx[i]]]
            correct += LABELS[best] == truth
            out.write(json.dumps({"row": i, "data_row": int(heldout_idx[i]),
                                  "probabilities": probs, "label": LABELS[best],
                                  "score": probs[best], "truth": truth}) + "\n")
    print(f"alcohol_band cut points (training tertiles): {cuts}")
    print(f"trained on {len(train_idx)} rows; held-out accuracy {correct}/{len(heldout_idx)}; "
          f"artifacts in {os.path.relpath(model)}")


if __name__ == "__main__":
    main()
