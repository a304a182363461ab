"""Postprocessor entry point for the scikit-learn container (SKLearnModel, TANDEM_FRAMEWORK
sklearn): the last model of the breast-cancer pipeline, turning P(malignant) into a label.

- model_fn: `config.json` at the root of model.tar.gz: the threshold (0.5) and the labels of
  class 0 and class 1 (["benign", "malignant"]).
- input_fn: what the XGBoost container answers, application/json (a list with one probability
  per row; the container's default when it gets no Accept), or text/csv (one per line, if its
  SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT is set to text/csv). The Content-Type may carry
  parameters (`text/csv; charset=utf-8`).
- predict_fn: per row, label of class 1 with score p when p >= threshold, else label of class 0
  with score 1 - p.
- output_fn: for the client's Accept: application/json (the default)
  `{"predictions":[{"label":...,"score":...}]}`, application/jsonlines one
  `{"label":...,"score":...}` per line, text/csv `label,score` lines.
"""
import json
import os

from sagemaker_containers.beta.framework import worker


def model_fn(model_dir):
    """The decision rule: {"threshold": 0.5, "labels": [class 0, class 1]}."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    if len(config["labels"]) != 2:
        raise ValueError("config.json: expected two labels, got {}".format(config["labels"]))
    return config


def input_fn(input_data, content_type):
    """The model's probabilities, one per row, as a list of floats."""
    media_type = content_type.split(";")[0].strip()
    text = input_data.decode("utf-8") if isinstance(input_data, bytes) else input_data
    if media_type == "application/json":
        scores = json.loads(text)
    elif media_type == "text/csv":
        scores = [line for line in text.split("\n") if line.strip()]
    else:
        raise ValueError("{} not supported by script".format(content_type))
    if not isinstance(scores, list):
        scores = [scores]
    # A one-column matrix ([[p], [p]]) is one probability per row too.
    return [float(s[0] if isinstance(s, list) and len(s) == 1 else s) for s in scores]


def predict_fn(input_data, model):
    negative, positive = model["labels"]
    predictions = []
    for p in input_data:
        if p >= model["threshold"]:
            predictions.append({"label": positive, "score": p})
        else:
            predictions.append({"label": negative, "score": 1.0 - p})
    return predictions


def output_fn(prediction, accept):
    if accept == "application/json":
        body = json.dumps({"predictions": prediction}, separators=(",", ":"))
    elif accept == "application/jsonlines":
        body = "".join(json.dumps(p, separators=(",", ":")) + "\n" for p in prediction)
    elif accept == "text/csv":
        body = "".join("{},{!r}\n".format(p["label"], p["score"]) for p in prediction)
    else:
        raise ValueError("{} accept type is not supported by this script".format(accept))
    return worker.Response(body, mimetype=accept)
