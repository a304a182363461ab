"""The helper modules scripts import (docs/python.md, "Helper modules"): importable as real
scripts import them, the serving helpers working, the training helpers saying they are not
available while serving."""

import warnings

import pytest

from handler_scripts import invoke, load

SERVING_IMPORTS = {
    "sklearn": """
        from sagemaker_containers.beta.framework import content_types, encoders, env, worker
        from sagemaker_containers.beta.framework import errors
        from sagemaker_containers import entry_point

        def model_fn(model_dir):
            return None

        def input_fn(body, content_type):
            assert content_type == content_types.CSV
            return encoders.decode(body, content_type)

        def predict_fn(data, model):
            return data.astype(float) * 2

        def output_fn(prediction, accept):
            return worker.Response(encoders.encode(prediction, accept), mimetype=accept)
        """,
    "xgboost": """
        import sagemaker_xgboost_container.encoder as xgb_encoders
        from sagemaker_xgboost_container import distributed
        from sagemaker_xgboost_container.data_utils import get_dmatrix
        from sagemaker_containers.beta.framework import encoders, worker

        def model_fn(model_dir):
            return None

        def input_fn(body, content_type):
            return xgb_encoders.decode(body, content_type)

        def predict_fn(data, model):
            return [data.num_row(), data.num_col()]

        def output_fn(prediction, accept):
            return worker.Response(encoders.encode(prediction, accept), mimetype=accept)
        """,
    "pytorch": """
        from sagemaker_inference import content_types, decoder, encoder, errors, utils
        from sagemaker_inference.default_inference_handler import DefaultInferenceHandler

        def model_fn(model_dir):
            return None

        def input_fn(body, content_type):
            if content_type != content_types.CSV:
                raise errors.UnsupportedFormatError(content_type)
            return decoder.decode(body, content_type)

        def predict_fn(data, model):
            return data * 2

        def output_fn(prediction, accept):
            return encoder.encode(prediction, utils.parse_accept(accept)[0]), accept
        """,
}


@pytest.mark.parametrize("framework,expected", [
    ("sklearn", b"2.0,4.0\n6.0,8.0\n"),
    ("xgboost", b"2\n2\n"),
    ("pytorch", b"2,4\n6,8\n"),  # np.genfromtxt infers int64
])
def test_scripts_using_each_helper_family_serve(tmp_path, framework, expected):
    service = load(tmp_path, SERVING_IMPORTS[framework], framework)
    answer = invoke(service, "1,2\n3,4", "text/csv", "text/csv")
    assert (answer.status, answer.body) == (200, expected)
    assert answer.content_type.startswith("text/csv")


@pytest.mark.parametrize("call,name", [
    ("entry_point.run('s3://bucket/code', 'train.py')", "sagemaker_containers.entry_point.run"),
    ("distributed.rabit_run(print, {})", "sagemaker_xgboost_container.distributed.rabit_run"),
    ("get_dmatrix('/opt/ml/input/data/train', 'csv')",
     "sagemaker_xgboost_container.data_utils.get_dmatrix"),
    ("data_utils.validate_data_file_path('/x', 'csv')",
     "sagemaker_xgboost_container.data_utils.validate_data_file_path"),
    ("framework.training_env()", "sagemaker_containers.beta.framework.training_env"),
])
def test_training_helpers_import_and_refuse_to_run(tmp_path, call, name):
    service = load(tmp_path, """
        from sagemaker_containers import entry_point
        from sagemaker_containers.beta import framework
        from sagemaker_xgboost_container import distributed, data_utils
        from sagemaker_xgboost_container.data_utils import get_dmatrix

        def model_fn(model_dir):
            return None

        def transform_fn(model, body, content_type, accept):
            return CALL
        """.replace("CALL", call), "xgboost")
    answer = invoke(service, "x", "text/plain")
    assert answer.status == 500
    text = answer.body.decode()
    assert "TrainingOnlyError: %s is a training helper" % name in text
    assert "not available while serving under tandem-python" in text


def test_a_training_script_with_a_main_guard_loads(tmp_path):
    service = load(tmp_path, """
        import argparse
        import os
        from sagemaker_containers import entry_point
        from sagemaker_xgboost_container import distributed
        from sagemaker_xgboost_container.data_utils import get_dmatrix

        def train(args):
            distributed.rabit_run(exec_fun=print, args={})

        def model_fn(model_dir):
            return "booster"

        if __name__ == "__main__":
            train(argparse.ArgumentParser().parse_args())
        """, "xgboost")
    assert service.model == "booster"


def test_worker_response_behaves_like_the_containers():
    from sagemaker_containers.beta.framework import worker

    default = worker.Response("[1]")
    assert (default.status_code, default.content_type, default.get_data()) == (
        200, "application/json", b"[1]")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignored = worker.Response("a,b", "text/csv", mimetype="text/csv")
    assert [w.category for w in caught] == [DeprecationWarning]
    assert ignored.content_type == "text/csv; charset=utf-8"
    assert ignored.mimetype == "text/csv"
    assert worker.Response("é", mimetype="text/plain").data == "é".encode()
    assert worker.Response(["a", b"b"], status="404 NOT FOUND").status_code == 404
    assert worker.Response(headers={"content-type": "image/png"}).content_type == "image/png"
    with pytest.raises(TypeError):
        worker.Response(3)


def test_toolkit_errors_carry_status_message_and_phrase():
    from sagemaker_inference import errors

    generic = errors.GenericInferenceToolkitError(400)
    assert (generic.status_code, generic.message, generic.phrase) == (400, "Invalid Request",
                                                                      "Invalid Request")
    assert isinstance(generic, errors.BaseInferenceToolkitError)
    base = errors.BaseInferenceToolkitError(422, "bad field", "Unprocessable")
    assert (base.status_code, base.message, base.phrase) == (422, "bad field", "Unprocessable")


def test_inference_utils():
    from sagemaker_inference import utils

    assert utils.parse_accept("text/csv, application/json") == ["text/csv", "application/json"]
    assert utils.retrieve_content_type_header({"Accept": "a", "content-type": "b"}) == "b"
    assert utils.retrieve_content_type_header({"ContentType": "c"}) == "c"
    assert utils.retrieve_content_type_header({"Accept": "a"}) is None


def test_the_runners_defaults_use_the_shims_codecs(tmp_path, monkeypatch):
    service = load(tmp_path, "def model_fn(d):\n    return None\n", "sklearn")
    from sagemaker_containers import _encoders

    monkeypatch.setitem(_encoders._decoders_map, "text/csv",
                        lambda text: (_ for _ in ()).throw(RuntimeError("shim decoder used")))
    answer = invoke(service, "1,2", "text/csv")
    assert answer.status == 500
    assert b"RuntimeError: shim decoder used" in answer.body
