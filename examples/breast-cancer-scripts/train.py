#!/usr/bin/python3
"""Packs the breast-cancer models as SageMaker estimators leave them: one model.tar.gz per model,
the files the training script saved at the archive's root.

Run with Debian's Python (python3-sklearn, python3-xgboost):  /usr/bin/python3 train.py

The models are examples/breast-cancer's, fitted by its train.py's `fit()` (same data, split and
seeds), so this pipeline answers exactly what that one does (its expected.jsonl):

  model/featurize/model.tar.gz    model.joblib: the fitted ColumnTransformer (joblib), as the
                                  scikit-learn estimator's script saves it for code/featurizer.py
  model/xgboost/model.tar.gz      xgboost-model: the booster (XGBoost's JSON format), as the
                                  XGBoost estimator's script saves it for code/xgboost_model.py
  model/postprocess/model.tar.gz  config.json: threshold 0.5, labels benign/malignant, for
                                  code/postprocess.py

The scripts are not in the archives: as with SKLearnModel and XGBoostModel, the code is the
entry point's source_dir (SAGEMAKER_SUBMIT_DIRECTORY, here code/ beside pipeline.yaml).
The archives are reproducible: sorted members, fixed owner, mode and mtime, gzip mtime 0, so
re-running this leaves them byte-identical.
"""
import gzip
import io
import json
import sys
import tarfile
from pathlib import Path

import joblib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "breast-cancer"))
import train as breast_cancer  # noqa: E402

MTIME = 1735689600  # 2025-01-01T00:00:00Z: any fixed time


def write_model_tar_gz(path: Path, files: dict) -> None:
    """`files` (name -> bytes) at the root of a gzipped tar, reproducibly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(files[name]))
    with open(path, "wb") as out, \
            gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(buffer.getvalue())


def joblib_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def main() -> None:
    fitted = breast_cancer.fit()
    model = HERE / "model"
    write_model_tar_gz(model / "featurize" / "model.tar.gz",
                       {"model.joblib": joblib_bytes(fitted.featurizer)})
    write_model_tar_gz(model / "xgboost" / "model.tar.gz",
                       {"xgboost-model": bytes(fitted.classifier.get_booster().save_raw("json"))})
    config = {"threshold": breast_cancer.THRESHOLD, "labels": breast_cancer.LABELS}
    write_model_tar_gz(model / "postprocess" / "model.tar.gz",
                       {"config.json": (json.dumps(config, indent=1) + "\n").encode()})
    print(f"packed the models fitted on {len(fitted.train_idx)} rows into "
          f"{', '.join(str(p.relative_to(HERE)) for p in sorted(model.glob('*/model.tar.gz')))}")


if __name__ == "__main__":
    main()
