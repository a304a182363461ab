// Real XGBoost models for the tests, trained by Debian's python3-xgboost (the same 1.7.4 as
// libxgboost) into a temporary folder once per test run, with an input batch (CSV and LIBSVM,
// with missing values) and the predictions Python computes for it.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "temp_dir.h"

namespace tandem::builtin::xgboost::testing {

// Each model in its own folder, saved in a different format: binary/model.json (JSON),
// softprob/model.ubj (UBJSON), softmax/model.bst (the old binary format), regression/
// xgboost-model (JSON content under the container's extension-less name).
inline constexpr const char* make_models_py = R"PY(
import json, os, sys
import numpy as np
import xgboost as xgb

out = sys.argv[1]
rng = np.random.default_rng(7)
X = rng.normal(size=(300, 5)).astype(np.float32)
labels = {
    "binary": (X[:, 0] + X[:, 1] > 0).astype(int),
    "softprob": np.digitize(X[:, 2], [-0.5, 0.5]),
    "softmax": np.digitize(X[:, 2], [-0.5, 0.5]),
    "regression": X[:, 3] * 2 + X[:, 4],
}
params = {
    "binary": {"objective": "binary:logistic"},
    "softprob": {"objective": "multi:softprob", "num_class": 3},
    "softmax": {"objective": "multi:softmax", "num_class": 3},
    "regression": {"objective": "reg:squarederror"},
}
files = {"binary": "model.json", "softprob": "model.ubj", "softmax": "model.bst",
         "regression": "xgboost-model"}

T = rng.normal(size=(25, 5)).astype(np.float32)
T[0, 1] = np.nan
T[3, 0] = np.nan
T[5, :] = np.nan
expected = {}
for name in params:
    booster = xgb.train({**params[name], "max_depth": 3, "seed": 0},
                        xgb.DMatrix(X, label=labels[name]), 12)
    os.makedirs(os.path.join(out, name))
    path = os.path.join(out, name, files[name])
    if name == "regression":
        booster.save_model(path + ".json")
        os.rename(path + ".json", path)
    else:
        booster.save_model(path)
    expected[name] = booster.predict(xgb.DMatrix(T, missing=np.nan)).tolist()

def number(v):
    return repr(float(v))

with open(os.path.join(out, "input.csv"), "w") as f:
    for row in T:
        f.write(",".join("" if np.isnan(v) else number(v) for v in row) + "\n")
with open(os.path.join(out, "input.libsvm"), "w") as f:
    for row in T:
        f.write(" ".join(["1"] + [f"{j}:{number(v)}" for j, v in enumerate(row)
                                  if not np.isnan(v)]) + "\n")
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
)PY";

class PythonModels {
 public:
  PythonModels() {
    const auto script = dir_.write("make_models.py", make_models_py);
    const auto log = dir_.path() / "python.log";
    const auto command = "/usr/bin/python3 " + script.string() + " " + dir_.path().string() + " >" +
                         log.string() + " 2>&1";
    if (std::system(command.c_str()) != 0) {
      FAIL("training the test models with /usr/bin/python3 (python3-xgboost) failed:\n"
           << read("python.log"));
    }
    expected_ = nlohmann::json::parse(read("expected.json"));
  }

  std::filesystem::path folder(const std::string& model) const { return dir_.path() / model; }
  std::string read(const std::string& name) const {
    std::ifstream in(dir_.path() / name, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // What Python predicted for input.csv: a list per row for multi:softprob, else a number.
  const nlohmann::json& expected(const std::string& model) const { return expected_.at(model); }

 private:
  TempDir dir_;
  nlohmann::json expected_;
};

// Trained on first use, shared by every test in the run.
inline const PythonModels& python_models() {
  static const PythonModels models;
  return models;
}

}  // namespace tandem::builtin::xgboost::testing
