"""Featurizer entry point for the scikit-learn container (SKLearnModel, TANDEM_FRAMEWORK sklearn).

The first model of the breast-cancer inference pipeline: the fitted ColumnTransformer (median
imputation, then standard scaling of the 30 columns) that train.py packs as `model.joblib` at
the root of model.tar.gz, as a scikit-learn estimator's training job leaves it.

- input_fn: `text/csv` rows of the 30 features, no header. An empty field (or only spaces) or
  `nan` in any case is a missing value (NaN, which the fitted imputer fills); blank lines are
  skipped.
- predict_fn: `transform`, not the default `predict` (the model is a preprocessor).
- output_fn: the features, one CSV line per row, for the XGBoost model after it. Its container
  reads the rows `"\n"`-separated and takes a trailing newline for one more (empty) row, so
  there is none after the last row. Between containers there is no Accept: the pipeline sets
  SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv on this model, which is what it answers then.
"""
import csv
import io
import os

import joblib
import numpy as np
from sagemaker_containers.beta.framework import encoders, worker


def model_fn(model_dir):
    """Deserialize the fitted ColumnTransformer."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def _field(text, row, column):
    value = text.strip()
    if value == "" or value.lower() == "nan":
        return np.nan
    try:
        return float(value)
    except ValueError:
        raise ValueError(
            "row {}, column {}: expected a number, got {!r}".format(row, column, text)) from None


def input_fn(input_data, content_type):
    """Parse text/csv rows into a float matrix, missing values as NaN."""
    if content_type.split(";")[0].strip() != "text/csv":
        raise ValueError("{} not supported by script: send text/csv".format(content_type))
    text = input_data.decode("utf-8") if isinstance(input_data, bytes) else input_data
    rows = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields:
            continue
        rows.append([_field(f, number, c) for c, f in enumerate(fields)])
    if not rows:
        raise ValueError("no rows in the request")
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise ValueError("the rows have different numbers of columns: {}".format(sorted(widths)))
    return np.array(rows, dtype=float)


def predict_fn(input_data, model):
    """Featurize: the default predict_fn would call .predict(), a preprocessor transforms."""
    return model.transform(input_data)


def output_fn(prediction, accept):
    """The features as text/csv (no newline after the last row), or application/json."""
    if accept == "text/csv":
        return worker.Response(encoders.encode(prediction, accept).rstrip("\n"), mimetype=accept)
    if accept == "application/json":
        return worker.Response(encoders.encode(prediction, accept), mimetype=accept)
    raise ValueError("{} accept type is not supported by this script".format(accept))
