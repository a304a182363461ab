"""Model entry point for the XGBoost container in script mode (XGBoostModel, TANDEM_FRAMEWORK
xgboost).

Only model_fn is written: the container's defaults do the rest, as in AWS's script-mode
examples. The booster is `xgboost-model` at the root of model.tar.gz, where the XGBoost
estimator's training script saves it (train.py writes it in XGBoost's JSON format, which
Booster.load_model recognises whatever the file is called).

The defaults: input_fn reads text/csv (the featurizer's answer) into a DMatrix, predict_fn is
`booster.predict(dmatrix, validate_features=False)`, P(malignant) per row, and output_fn
encodes it for the Accept it gets. Between containers there is none, so the container's
default applies, application/json: a JSON list with one probability per row, which the
postprocessor reads.
"""
import os

import xgboost as xgb


def model_fn(model_dir):
    """Deserialize the trained booster."""
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster
