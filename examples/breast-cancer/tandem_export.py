"""Export a fitted scikit-learn ColumnTransformer as tandem-featurize's `featurize.json`.

    from tandem_export import export_featurizer
    spec = export_featurizer(column_transformer, input_columns=["age", "color", ...])
    json.dump(spec, open("model/featurize/featurize.json", "w"), indent=1)

Supported (anything else raises `UnsupportedTransformer` instead of exporting something
that would transform differently):

- a fitted `ColumnTransformer` whose transformers are `Pipeline`s (or single transformers)
  of `SimpleImputer` (any strategy; `missing_values=nan`, no indicator), `StandardScaler`
  and `OneHotEncoder` (dense output, no `drop`, no infrequent categories, per column all
  categories numbers or all strings), selecting columns by integer index, slice or boolean
  mask (or by name when `input_columns` names them);
- transformers `"drop"` (left out) and `"passthrough"` (exported with no steps);
- `remainder` `"drop"` or `"passthrough"` (tandem appends the passthrough columns after all
  transformers, in input order, as scikit-learn does).

Floats are written by Python's `json`, which writes the shortest text that reads back as the
same double, so the C++ stage uses exactly scikit-learn's fitted values.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FORMAT = "tandem-featurize/1"


class UnsupportedTransformer(ValueError):
    """The fitted transformer uses something tandem-featurize does not implement."""


def _is_nan(value) -> bool:
    return isinstance(value, numbers.Real) and math.isnan(value)


def _numbers(values, what: str) -> list[float]:
    out = []
    for v in np.asarray(values, dtype=float).tolist():
        if not math.isfinite(v):
            raise UnsupportedTransformer(f"{what}: non-finite value {v}")
        out.append(float(v))
    return out


def _column_indices(columns, n_input: int, input_columns: list[str]) -> list[int]:
    if isinstance(columns, slice):
        return list(range(n_input))[columns]
    if callable(columns):
        raise UnsupportedTransformer("callable column selectors are not supported")
    values = list(np.atleast_1d(np.asarray(columns, dtype=object)))
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return [i for i, keep in enumerate(values) if keep]
    indices = []
    for v in values:
        if isinstance(v, str):
            if v not in input_columns:
                raise UnsupportedTransformer(f"column {v!r} is not in input_columns")
            indices.append(input_columns.index(v))
        elif isinstance(v, numbers.Integral):
            i = int(v)
            if i < 0:
                i += n_input
            if not 0 <= i < n_input:
                raise UnsupportedTransformer(f"column index {int(v)} out of range")
            indices.append(i)
        else:
            raise UnsupportedTransformer(f"unsupported column selector {v!r}")
    return indices


def _imputer(step: SimpleImputer, n_columns: int) -> dict:
    if not _is_nan(step.missing_values):
        raise UnsupportedTransformer(
            f"SimpleImputer: only missing_values=nan is supported, got {step.missing_values!r}")
    if step.add_indicator:
        raise UnsupportedTransformer("SimpleImputer: add_indicator is not supported")
    stats = list(step.statistics_)
    if len(stats) != n_columns:
        raise UnsupportedTransformer("SimpleImputer: statistics_ does not match its columns")
    fill = []
    for s in stats:
        if isinstance(s, str):
            fill.append(s)
        elif isinstance(s, numbers.Real) and not isinstance(s, bool):
            if math.isnan(s):
                # scikit-learn drops such a column (no value seen in training); tandem doesn't.
                raise UnsupportedTransformer("SimpleImputer: a column had no value in training")
            fill.append(float(s))
        else:
            raise UnsupportedTransformer(f"SimpleImputer: unsupported fill value {s!r}")
    return {"type": "impute", "fill": fill}


def _scaler(step: StandardScaler, n_columns: int) -> dict:
    out: dict = {"type": "scale"}
    if step.with_mean:
        out["mean"] = _numbers(step.mean_, "StandardScaler.mean_")
    if step.with_std:
        out["scale"] = _numbers(step.scale_, "StandardScaler.scale_")
    for key in ("mean", "scale"):
        if key in out and len(out[key]) != n_columns:
            raise UnsupportedTransformer(f"StandardScaler: {key} does not match its columns")
    return out


def _onehot(step: OneHotEncoder, n_columns: int) -> dict:
    if step.drop is not None:
        raise UnsupportedTransformer("OneHotEncoder: drop is not supported")
    if getattr(step, "sparse_output", getattr(step, "sparse", False)) not in (False,):
        raise UnsupportedTransformer("OneHotEncoder: use sparse_output=False")
    if step.handle_unknown not in ("ignore", "error"):
        raise UnsupportedTransformer(
            f"OneHotEncoder: handle_unknown={step.handle_unknown!r} is not supported")
    if getattr(step, "infrequent_categories_", None) is not None and any(
            c is not None for c in step.infrequent_categories_):
        raise UnsupportedTransformer("OneHotEncoder: infrequent categories are not supported")
    if len(step.categories_) != n_columns:
        raise UnsupportedTransformer("OneHotEncoder: categories_ does not match its columns")
    categories = []
    for cats in step.categories_:
        values = list(cats)
        if all(isinstance(v, str) for v in values):
            categories.append([str(v) for v in values])
        elif all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            categories.append(_numbers(values, "OneHotEncoder.categories_"))
        else:
            raise UnsupportedTransformer(
                "OneHotEncoder: a column's categories must be all numbers or all strings "
                f"(missing values among the categories are not supported), got {values!r}")
    return {"type": "onehot", "categories": categories, "handle_unknown": step.handle_unknown}


def _steps(transformer, n_columns: int) -> list[dict]:
    if isinstance(transformer, Pipeline):
        parts = [t for _, t in transformer.steps if t not in (None, "passthrough")]
    else:
        parts = [transformer]
    steps = []
    width = n_columns  # columns entering the current step
    for part in parts:
        if isinstance(part, SimpleImputer):
            steps.append(_imputer(part, width))
        elif isinstance(part, StandardScaler):
            steps.append(_scaler(part, width))
        elif isinstance(part, OneHotEncoder):
            if any(s["type"] == "onehot" for s in steps):
                raise UnsupportedTransformer("only one OneHotEncoder per transformer")
            steps.append(_onehot(part, width))
            width = sum(len(c) for c in part.categories_)
        else:
            raise UnsupportedTransformer(f"unsupported step {type(part).__name__}")
    if any(s["type"] == "onehot" for s in steps) and steps[-1]["type"] != "onehot":
        raise UnsupportedTransformer("OneHotEncoder must be the last step of its transformer")
    return steps


def export_featurizer(column_transformer: ColumnTransformer, input_columns: list[str]) -> dict:
    """The `featurize.json` document (a dict) for a fitted ColumnTransformer.

    `input_columns` names the columns of the CSV rows the stage will receive, in order."""
    if not isinstance(column_transformer, ColumnTransformer):
        raise UnsupportedTransformer("expected a ColumnTransformer")
    if not hasattr(column_transformer, "transformers_"):
        raise UnsupportedTransformer("the ColumnTransformer is not fitted")
    input_columns = [str(c) for c in input_columns]
    n_input = len(input_columns)
    fitted_n = getattr(column_transformer, "n_features_in_", n_input)
    if fitted_n != n_input:
        raise UnsupportedTransformer(
            f"the ColumnTransformer was fitted on {fitted_n} columns, input_columns has {n_input}")
    transformers = []
    remainder = "drop"
    for name, transformer, columns in column_transformer.transformers_:
        indices = _column_indices(columns, n_input, input_columns)
        if name == "remainder":
            if transformer == "passthrough":
                remainder = "passthrough"
            elif transformer != "drop":
                raise UnsupportedTransformer("remainder must be 'drop' or 'passthrough'")
            continue
        if transformer == "drop" or not indices:
            continue
        steps = [] if transformer == "passthrough" else _steps(transformer, len(indices))
        transformers.append({"name": name, "columns": indices, "steps": steps})
    return {
        "format": FORMAT,
        "n_input_columns": n_input,
        "input_columns": input_columns,
        "transformers": transformers,
        "remainder": remainder,
    }


def write_artifacts(model_dir, featurizer, input_columns, classifier, postprocess: dict):
    """Writes the three stages' model folders (and the BYOC featurizer's joblib) under
    `model_dir`: featurize/featurize.json, xgboost/model.json, postprocess/postprocess.json
    (`postprocess` without its "format" key). Returns the booster file's path."""
    import json

    import joblib

    for sub in ("featurize", "xgboost", "postprocess", "byoc-featurizer"):
        (model_dir / sub).mkdir(parents=True, exist_ok=True)
    for stale in (model_dir / "xgboost").iterdir():
        stale.unlink()  # tandem-xgboost wants exactly one model file there
    spec = export_featurizer(featurizer, input_columns)
    (model_dir / "featurize" / "featurize.json").write_text(json.dumps(spec, indent=1) + "\n")
    booster_path = model_dir / "xgboost" / "model.json"
    classifier.get_booster().save_model(str(booster_path))
    (model_dir / "postprocess" / "postprocess.json").write_text(json.dumps(
        {"format": "tandem-postprocess/1", **postprocess}, indent=1) + "\n")
    joblib.dump(featurizer, model_dir / "byoc-featurizer" / "featurizer.joblib", compress=3)
    return booster_path
