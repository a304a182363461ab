#!/usr/bin/python3
"""Trains the breast-cancer demo and writes every artifact tandem serves and the tests check.

Run with Debian's Python (python3-sklearn, python3-xgboost):  /usr/bin/python3 train.py

Data: scikit-learn's copy of the Wisconsin Diagnostic Breast Cancer data set (569 rows, 30
numeric features). In scikit-learn's file the target is 0 = malignant, 1 = benign; this model
predicts P(malignant), so its class 1 is "malignant" and the postprocess labels are
["benign", "malignant"].

Written next to this file (all deterministic: fixed seeds, one thread, exact tree method):

  model/featurize/featurize.json       the fitted ColumnTransformer, for tandem-featurize
  model/xgboost/model.json             the booster (JSON), for tandem-xgboost
  model/postprocess/postprocess.json   threshold 0.5, labels, for tandem-postprocess
  model/byoc-featurizer/featurizer.joblib  the same ColumnTransformer, for byoc/featurizer.py
  heldout.csv                          the held-out rows (no header, no target); a few values
                                       are blanked to exercise imputation
  expected.jsonl                       per held-out row (line `row` of heldout.csv), what
                                       scikit-learn + xgboost answer: score_positive =
                                       P(malignant), label and score as tandem-postprocess
                                       reports them; truth is the data set's label
"""
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tandem_export import write_artifacts  # noqa: E402

DATA = Path("/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv")
SEED = 42
LABELS = ["benign", "malignant"]  # class 0, class 1 of the model
THRESHOLD = 0.5
# Held-out (row, column) fields blanked in heldout.csv: scikit-learn sees NaN there, and
# tandem-featurize imputes the training median, as SimpleImputer does.
BLANKS = [(0, 0), (3, 7), (3, 21), (10, 29), (25, 13)]


def read_data():
    with open(DATA, newline="") as f:
        rows = list(csv.reader(f))
    n_rows, n_features, *names = rows[0]
    assert names == ["malignant", "benign"], names  # target 0 = malignant, 1 = benign
    rows = rows[1:]
    assert len(rows) == int(n_rows) and all(len(r) == int(n_features) + 1 for r in rows)
    fields = [r[:-1] for r in rows]  # the feature values, as text
    target = np.array([int(r[-1]) for r in rows])
    is_malignant = (target == 0).astype(int)
    return fields, is_malignant


def to_matrix(fields) -> np.ndarray:
    return np.array([[float(v) if v not in ("", "nan") else np.nan for v in row] for row in fields],
                    dtype=float)


@dataclass
class Fitted:
    """What training produces: the two fitted models and the split they were fitted on."""
    featurizer: ColumnTransformer
    classifier: xgb.XGBClassifier
    feature_names: list[str]
    y: np.ndarray  # 1 = malignant, per data row
    train_idx: np.ndarray
    heldout_idx: np.ndarray  # sorted
    heldout_fields: list[list[str]]  # the held-out rows as text, BLANKS blanked


def fit() -> Fitted:
    """Splits the data and fits the featurizer and the classifier (deterministic). Also used
    by ../breast-cancer-scripts/train.py, which packs the same models as SageMaker
    estimators do."""
    fields, y = read_data()
    feature_names = [str(n) for n in load_breast_cancer().feature_names]
    assert len(feature_names) == len(fields[0])
    train_idx, heldout_idx = train_test_split(np.arange(len(fields)), test_size=0.2,
                                              stratify=y, random_state=SEED)
    heldout_idx = np.sort(heldout_idx)
    train_fields = [fields[i] for i in train_idx]
    heldout_fields = [list(fields[i]) for i in heldout_idx]
    for row, col in BLANKS:
        heldout_fields[row][col] = ""

    featurizer = ColumnTransformer(
        [("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                           ("scale", StandardScaler())]), list(range(len(feature_names))))],
        remainder="drop")
    x_train = featurizer.fit_transform(to_matrix(train_fields))
    classifier = xgb.XGBClassifier(n_estimators=40, max_depth=3, learning_rate=0.3,
                                   objective="binary:logistic", tree_method="exact",
                                   random_state=SEED, n_jobs=1)
    classifier.fit(x_train, y[train_idx])
    return Fitted(featurizer, classifier, feature_names, y, train_idx, heldout_idx,
                  heldout_fields)


def main() -> None:
    fitted = fit()
    featurizer, classifier = fitted.featurizer, fitted.classifier
    y, heldout_idx, heldout_fields = fitted.y, fitted.heldout_idx, fitted.heldout_fields

    model = HERE / "model"
    booster_path = write_artifacts(model, featurizer, fitted.feature_names, classifier,
                                   {"mode": "threshold", "threshold": THRESHOLD,
                                    "labels": LABELS})

    # What the endpoint must answer, computed from the files just written: the held-out text
    # parsed as the stages parse it, scikit-learn's transform, the saved booster's predict.
    heldout_lines = [",".join(row) for row in heldout_fields]
    (HERE / "heldout.csv").write_text("\n".join(heldout_lines) + "\n")
    features = featurizer.transform(to_matrix(heldout_fields))
    booster = xgb.Booster(params={"nthread": 1}, model_file=str(booster_path))
    p_malignant = booster.predict(xgb.DMatrix(features))
    assert np.array_equal(p_malignant, classifier.predict_proba(features)[:, 1].astype(np.float32))
    correct = 0
    with open(HERE / "expected.jsonl", "w") as out:
        for i, p in enumerate(p_malignant.tolist()):
            label = LABELS[1] if p >= THRESHOLD else LABELS[0]
            score = p if label == LABELS[1] else 1.0 - p
            truth = LABELS[y[heldout_idx[i]]]
            correct += label == truth
            out.write(json.dumps({"row": i, "data_row": int(heldout_idx[i]),
                                  "score_positive": p, "label": label, "score": score,
                                  "truth": truth}) + "\n")
    print(f"trained on {len(fitted.train_idx)} rows; held-out accuracy "
          f"{correct}/{len(heldout_idx)}; artifacts in {os.path.relpath(model)}")


if __name__ == "__main__":
    main()
