"""The breast-cancer featurizer as bring-your-own-container serving code.

Written the way SageMaker's scikit-learn BYOC examples write their predictor.py: a Flask app
served by gunicorn (see ./serve), a ScoringService that loads the fitted model once, GET /ping
for health and POST /invocations for CSV in, CSV out. The "model" is the fitted
ColumnTransformer that train.py pickles with joblib (featurizer.joblib), loaded from
$SM_MODEL_DIR, else /opt/ml/model.

- Input: `text/csv` rows without a header (parameters such as `; charset=utf-8` are fine),
  one field per input column. An empty field (or only spaces) or `nan` in any case is a
  missing value (NaN for scikit-learn, so the fitted SimpleImputer fills it), as for
  tandem-featurize; a field that reads as a number is a number, anything else is a string
  (a category, compared as written).
- Output: the transformed features, one CSV line per row, each value written with Python's
  repr (the shortest text that reads back as the same double). Flask sends it as
  `text/csv; charset=utf-8`.
- Errors: 415 for another content type, 400 (text/plain, the reason) for rows scikit-learn
  cannot transform: wrong number of columns, a string in a numeric column, ...

Nothing here is specific to breast cancer: it serves any featurizer.joblib (wine's too).
"""

import csv
import io
import os

import flask
import joblib
import numpy as np

prefix = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
model_path = os.path.join(prefix, "featurizer.joblib")


class ScoringService(object):
    model = None  # Where we keep the model when it's loaded

    @classmethod
    def get_model(cls):
        """Get the model object for this instance, loading it if it's not already loaded."""
        if cls.model is None:
            cls.model = joblib.load(model_path)
        return cls.model

    @classmethod
    def transform(cls, rows):
        """Transforms the parsed rows (a list of lists) with the fitted ColumnTransformer."""
        model = cls.get_model()
        expected = getattr(model, "n_features_in_", None)
        for number, row in enumerate(rows, start=1):
            if expected is not None and len(row) != expected:
                raise ValueError("row {} has {} columns, expected {}".format(
                    number, len(row), expected))
        data = np.empty((len(rows), expected or 0), dtype=object)
        for i, row in enumerate(rows):
            data[i, :] = row
        return model.transform(data)


def parse_field(text):
    if text.strip() == "" or text.strip().lower() == "nan":
        return np.nan
    try:
        return float(text)
    except ValueError:
        return text


def parse_csv(text):
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue  # blank line
        rows.append([parse_field(field) for field in row])
    return rows


def format_csv(matrix):
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in matrix)


# The flask app for serving predictions
app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    """Determine if the container is working and healthy. In this container, we declare it
    healthy if we can load the model successfully."""
    try:
        health = ScoringService.get_model() is not None
    except Exception as e:  # noqa: BLE001 - any load failure means unhealthy
        app.logger.error("cannot load %s: %s", model_path, e)
        health = False
    status = 200 if health else 404
    return flask.Response(response="\n", status=status, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation():
    """Transform a batch of CSV rows into features, CSV out."""
    if flask.request.mimetype != "text/csv":
        return flask.Response(
            response="This featurizer only supports text/csv data, got {}".format(
                flask.request.content_type or "no Content-Type"),
            status=415, mimetype="text/plain")

    try:
        data = flask.request.get_data().decode("utf-8")
        rows = parse_csv(data)
        if not rows:
            raise ValueError("no rows in the request")
        features = ScoringService.transform(rows)
    except (ValueError, TypeError, UnicodeDecodeError, csv.Error) as e:
        return flask.Response(response="invalid input: {}".format(e), status=400,
                              mimetype="text/plain")

    return flask.Response(response=format_csv(features), status=200, mimetype="text/csv")
