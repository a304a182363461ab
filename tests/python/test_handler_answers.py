"""Service.invoke: content type and Accept rules, response shaping and error answers per
framework family, against the contract (docs/python.md, "Content-Type, Accept and the answer"
and "Errors")."""

import json

import numpy as np
import pytest

from handler_scripts import invoke, load

ECHO_FLASK = """
def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    return RESULT
"""


def flask_result(tmp_path, result_source, framework="sklearn"):
    """The answer of a Flask-family transform_fn returning the Python expression given."""
    service = load(tmp_path, "from sagemaker_containers.beta.framework import worker\n"
                   "import numpy as np\n" + ECHO_FLASK.replace("RESULT", result_source), framework)
    return invoke(service, "x", "text/plain", "text/plain")


# --- Flask family: shaping of what the handler returns (Transformer.transform + make_response) --

@pytest.mark.parametrize("framework", ["sklearn", "xgboost"])
@pytest.mark.parametrize("result", ["'hello'", "b'hello'", "bytearray(b'hello')"])
def test_flask_str_or_bytes_is_200_text_html(tmp_path, framework, result):
    answer = flask_result(tmp_path, result, framework)
    assert (answer.status, answer.body, answer.content_type) == (
        200, b"hello", "text/html; charset=utf-8")


def test_flask_str_is_sent_as_utf8(tmp_path):
    answer = flask_result(tmp_path, "'caf\\u00e9'")
    assert answer.body == "café".encode("utf-8")


def test_flask_dict_is_flask_jsonify(tmp_path):
    answer = flask_result(tmp_path, "{'b': 1, 'a': [1, 2.5], 'c': 'é'}")
    assert (answer.status, answer.content_type) == (200, "application/json")
    assert answer.body == b'{"a":[1,2.5],"b":1,"c":"\\u00e9"}\n'


@pytest.mark.parametrize("result,kind", [("None", "returned None"), ("[1, 2]", "it was a list"),
                                         ("np.array([1.0])", "it was a ndarray"),
                                         ("3", "it was a int")])
def test_flask_none_list_ndarray_are_500(tmp_path, result, kind):
    answer = flask_result(tmp_path, result)
    assert answer.status == 500
    assert answer.content_type == "text/plain; charset=utf-8"
    text = answer.body.decode()
    assert text.startswith("response of transform_fn: TypeError: The view function did not "
                           "return a valid response.")
    assert kind in text


@pytest.mark.parametrize("content_type,expected", [
    ("text/csv", "text/csv; charset=utf-8"),
    ("application/json", "application/json"),
    ("application/x-npy", "application/x-npy"),
    ("application/xml", "application/xml; charset=utf-8"),
    ("application/javascript", "application/javascript; charset=utf-8"),
    ("image/svg+xml", "image/svg+xml; charset=utf-8"),
    ("application/jsonlines", "application/jsonlines"),
    ("text/csv; charset=utf-8", "text/csv; charset=utf-8; charset=utf-8"),
])
def test_flask_tuple_is_a_response_with_werkzeugs_charset_rule(tmp_path, content_type, expected):
    answer = flask_result(tmp_path, "('1,2', %r)" % content_type)
    assert (answer.status, answer.body, answer.content_type) == (200, b"1,2", expected)


def test_flask_tuple_with_no_content_type_is_application_json(tmp_path):
    answer = flask_result(tmp_path, "('{}', None)")
    assert (answer.status, answer.content_type) == (200, "application/json")


def test_flask_worker_response_is_sent_as_built(tmp_path):
    answer = flask_result(
        tmp_path,
        "worker.Response('made', status=201, mimetype='text/plain', "
        "headers={'X-Amzn-SageMaker-Custom-Attributes': 'k=v'})")
    assert (answer.status, answer.body, answer.content_type, answer.custom_attributes) == (
        201, b"made", "text/plain; charset=utf-8", "k=v")


def test_flask_worker_response_defaults_to_application_json_and_ignores_accept(tmp_path):
    with pytest.warns(DeprecationWarning):
        answer = flask_result(tmp_path, "worker.Response('[1]', 'text/csv')")
    assert (answer.status, answer.body, answer.content_type) == (200, b"[1]", "application/json")


def test_flask_a_real_flask_response_is_sent_as_built(tmp_path):
    pytest.importorskip("flask")
    answer = flask_result(tmp_path, "__import__('flask').Response('f', status=202, "
                                    "mimetype='text/csv')")
    assert (answer.status, answer.body, answer.content_type) == (
        202, b"f", "text/csv; charset=utf-8")


# --- Flask family: request content type, body type and Accept ---------------------------------

RECORDER = """
def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    return repr((type(body).__name__, content_type, accept)), "text/plain"
"""


@pytest.mark.parametrize("content_type,accept,expected", [
    ("", "", ("str", "application/json", "application/json")),
    ("text/csv", "*/*", ("str", "text/csv", "application/json")),
    ("text/csv; charset=utf-8", "text/csv", ("bytes", "text/csv; charset=utf-8", "text/csv")),
    ("application/json; charset=utf-8", "", ("bytes", "application/json; charset=utf-8",
                                             "application/json")),
    ("application/x-npy", "text/csv, application/json",
     ("bytes", "application/x-npy", "text/csv, application/json")),
    ("text/plain", "*/*;q=0.8", ("bytes", "text/plain", "*/*;q=0.8")),
])
def test_flask_content_type_accept_and_body_type(tmp_path, content_type, accept, expected):
    service = load(tmp_path, RECORDER, "sklearn")
    answer = invoke(service, "1", content_type, accept)
    assert answer.body.decode() == repr(expected)


def test_flask_default_accept_is_configurable(tmp_path):
    service = load(tmp_path, RECORDER, "xgboost", default_accept="text/csv")
    assert invoke(service, "1", "text/csv", "").body.decode() == repr(("str", "text/csv",
                                                                       "text/csv"))


def test_flask_invalid_utf8_json_body_is_decoded_with_replacement(tmp_path):
    service = load(tmp_path, """
        def model_fn(model_dir):
            return None
        def transform_fn(model, body, content_type, accept):
            return body, "text/plain"
        """, "sklearn")
    assert invoke(service, b"\xff1", "application/json").body == "\ufffd1".encode()


# --- Flask family: errors ----------------------------------------------------------------------

PREDICT_RAISES = """
def model_fn(model_dir):
    return None

def predict_fn(data, model):
    values = list(data)
    raise ValueError("boom: %d values" % len(values))
"""


def test_exception_in_predict_fn_is_500_plain_text_naming_the_line(tmp_path, capsys):
    service = load(tmp_path, PREDICT_RAISES, "sklearn")
    answer = invoke(service, "[1, 2]", "application/json", inference_id="req-7")
    assert (answer.status, answer.content_type) == (500, "text/plain; charset=utf-8")
    assert answer.body == b"inference.py:7: predict_fn: ValueError: boom: 2 values\n"
    err = capsys.readouterr().err
    assert err.startswith("tandem-python: invocation (inference id req-7) answered 500: "
                          "inference.py:7: predict_fn: ValueError: boom: 2 values\nTraceback")
    assert err.count("Traceback (most recent call last)") == 1


@pytest.mark.parametrize("framework", ["sklearn", "xgboost"])
def test_unsupported_content_type_is_500_in_the_flask_family(tmp_path, framework):
    service = load(tmp_path, "def model_fn(d):\n    return None\n", framework)
    answer = invoke(service, "x", "text/plain", "application/json")
    assert answer.status == 500
    assert answer.body.decode().startswith(
        "input_fn (%s default): UnsupportedFormatError: Content type text/plain is not supported"
        % framework)


def test_unsupported_accept_is_500_in_the_flask_family(tmp_path):
    service = load(tmp_path, """
        def model_fn(model_dir):
            return None
        def predict_fn(data, model):
            return data
        """, "sklearn")
    answer = invoke(service, "[1, 2]", "application/json", "text/plain")
    assert answer.status == 500
    assert answer.body.decode().startswith("output_fn (sklearn default): UnsupportedFormatError: "
                                           "Content type text/plain is not supported")
    listed = invoke(service, "[1, 2]", "application/json", "application/json, text/csv")
    assert listed.status == 500


def test_sklearn_defaults_give_float32_arrays_of_the_containers_shapes(tmp_path):
    service = load(tmp_path, """
        def model_fn(model_dir):
            return None
        def predict_fn(data, model):
            return {"dtype": str(data.dtype), "shape": list(data.shape)}
        def output_fn(prediction, accept):
            return prediction
        """, "sklearn")
    cases = [("1,2\n3,4", "text/csv", [2, 2]), ("1,2,3", "text/csv", [3]), ("5", "text/csv", []),
             ("[[1, 2]]", "application/json", [1, 2])]
    for body, content_type, shape in cases:
        answer = invoke(service, body, content_type)
        assert json.loads(answer.body) == {"dtype": "float32", "shape": shape}, body


def test_sklearn_default_npy_keeps_its_dtype(tmp_path):
    import io

    service = load(tmp_path, """
        def model_fn(model_dir):
            return None
        def predict_fn(data, model):
            return data * 2
        """, "sklearn")
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1, 2]], dtype=np.int64))
    answer = invoke(service, buffer.getvalue(), "application/x-npy", "application/x-npy")
    assert (answer.status, answer.content_type) == (200, "application/x-npy")
    out = np.load(io.BytesIO(answer.body))
    assert out.dtype == np.int64 and out.tolist() == [[2, 4]]


# --- XGBoost defaults on a real Booster ----------------------------------------------------

@pytest.fixture
def xgb_service(tmp_path):
    import xgboost as xgb

    from handler_scripts import model_dir

    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5], [0.5, 2.0], [3.0, 1.0]])
    y = x[:, 0] * 2 + x[:, 1]
    booster = xgb.train({"max_depth": 2, "eta": 1.0, "verbosity": 0}, xgb.DMatrix(x, label=y), 5)
    booster.save_model(str(model_dir(tmp_path) / "xgboost-model.json"))
    service = load(tmp_path, """
        import os
        import xgboost as xgb

        def model_fn(model_dir):
            booster = xgb.Booster()
            booster.load_model(os.path.join(model_dir, "xgboost-model.json"))
            return booster
        """, "xgboost")
    expected = booster.predict(xgb.DMatrix(np.array([[1.0, 0.0], [0.0, 1.0]])))
    return service, expected


def test_xgboost_csv_and_libsvm_give_the_boosters_predictions(xgb_service):
    service, expected = xgb_service
    csv_answer = invoke(service, "1,0\n0,1", "text/csv", "text/csv")
    assert (csv_answer.status, csv_answer.content_type) == (200, "text/csv; charset=utf-8")
    assert np.allclose([float(v) for v in csv_answer.body.split()], expected)
    for content_type in ("text/libsvm", "text/x-libsvm"):
        libsvm = invoke(service, "0 0:1\n0 1:1\n", content_type, "application/json")
        assert (libsvm.status, libsvm.content_type) == (200, "application/json")
        assert np.allclose(json.loads(libsvm.body), expected)


def test_xgboost_csv_with_parameters_still_decodes(xgb_service):
    service, expected = xgb_service
    answer = invoke(service, "1,0\n0,1", "text/csv; charset=utf-8", "application/json")
    assert answer.status == 200
    assert np.allclose(json.loads(answer.body), expected)


def test_xgboost_csv_with_a_trailing_newline_fails_as_in_the_container(xgb_service):
    service, _ = xgb_service
    answer = invoke(service, "1,0\n0,1\n", "text/csv", "application/json")
    assert answer.status == 500
    assert answer.body.startswith(b"input_fn (xgboost default): ValueError")


def test_xgboost_json_request_is_unsupported(xgb_service):
    service, _ = xgb_service
    answer = invoke(service, "[[1, 0]]", "", "application/json")
    assert answer.status == 500
    assert b"Content type application/json is not supported" in answer.body


# --- PyTorch family ------------------------------------------------------------------------------

TORCH_RECORDER = """
from sagemaker_inference import errors

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    if content_type == "application/x-fail":
        raise errors.GenericInferenceToolkitError(418, "teapot input")
    if content_type == "application/x-generic":
        raise KeyError("missing")
    if content_type == "application/x-tuple":
        return b"tuple", "application/x-made"
    if content_type == "application/x-obj":
        return {"b": 1, "a": [1, 2]}
    if content_type == "application/x-bad":
        return object()
    return repr((type(body).__name__, content_type, accept))
"""


@pytest.mark.parametrize("content_type,accept,expected,answer_type", [
    ("", "", ("bytes", None, "application/json"), "application/json"),
    ("application/json", "*/*", ("str", "application/json", "application/json"),
     "application/json"),
    ("text/csv", "text/plain, text/csv, application/json",
     ("str", "text/csv", "text/plain, text/csv, application/json"),
     "text/plain, text/csv, application/json"),
    ("text/csv; charset=utf-8", "text/csv", ("bytes", "text/csv; charset=utf-8", "text/csv"),
     "text/csv"),
])
def test_pytorch_content_type_accept_and_body(tmp_path, content_type, accept, expected,
                                              answer_type):
    service = load(tmp_path, TORCH_RECORDER, "pytorch")
    answer = invoke(service, "1", content_type, accept)
    assert (answer.status, answer.body.decode(), answer.content_type) == (
        200, repr(expected), answer_type)


def test_pytorch_tuple_sets_the_content_type(tmp_path):
    service = load(tmp_path, TORCH_RECORDER, "pytorch")
    answer = invoke(service, "1", "application/x-tuple", "text/csv")
    assert (answer.status, answer.body, answer.content_type) == (200, b"tuple",
                                                                  "application/x-made")


def test_pytorch_other_objects_are_json_with_indent_2(tmp_path):
    service = load(tmp_path, TORCH_RECORDER, "pytorch")
    answer = invoke(service, "1", "application/x-obj", "application/json")
    assert answer.body == json.dumps({"b": 1, "a": [1, 2]}, indent=2).encode()


def test_pytorch_unserialisable_object_is_503(tmp_path):
    service = load(tmp_path, TORCH_RECORDER, "pytorch")
    answer = invoke(service, "1", "application/x-bad", "application/json")
    assert answer.status == 503
    assert answer.body == b"Unsupported model output data type: object\n"


def test_pytorch_toolkit_error_carries_its_status(tmp_path):
    service = load(tmp_path, TORCH_RECORDER, "pytorch")
    answer = invoke(service, "1", "application/x-fail", "application/json")
    assert (answer.status, answer.content_type) == (418, "text/plain; charset=utf-8")
    assert answer.body == (b"inference.py:9: transform_fn: GenericInferenceToolkitError: "
                           b"teapot input\n")


def test_pytorch_toolkit_error_with_an_invalid_status_is_500(tmp_path):
    service = load(tmp_path, """
        from sagemaker_inference import errors
        def model_fn(model_dir):
            return None
        def transform_fn(model, body, content_type, accept):
            raise errors.GenericInferenceToolkitError(body.decode(), "odd status")
        """, "pytorch")
    assert invoke(service, "42", "application/octet-stream").status == 500
    assert invoke(service, "abc", "application/octet-stream").status == 500
    assert invoke(service, "404", "application/octet-stream").status == 404


def test_an_exception_whose_str_fails_still_answers(tmp_path):
    service = load(tmp_path, """
        class Odd(Exception):
            def __str__(self):
                raise RuntimeError("no str")
        def model_fn(model_dir):
            return None
        def predict_fn(data, model):
            raise Odd()
        """, "sklearn")
    answer = invoke(service, "[1]", "application/json")
    assert (answer.status, answer.body) == (500, b"inference.py:8: predict_fn: Odd\n")


def test_pytorch_other_exception_is_500(tmp_path):
    service = load(tmp_path, TORCH_RECORDER, "pytorch")
    answer = invoke(service, "1", "application/x-generic", "application/json")
    assert answer.status == 500
    assert answer.body == b"inference.py:11: transform_fn: KeyError: 'missing'\n"


def test_pytorch_invalid_utf8_json_is_500(tmp_path):
    service = load(tmp_path, TORCH_RECORDER, "pytorch")
    answer = invoke(service, b"\xff", "application/json", "application/json")
    assert answer.status == 500
    assert b"UnicodeDecodeError" in answer.body


def test_pytorch_default_output_picks_the_first_supported_accept(tmp_path):
    service = load(tmp_path, """
        def model_fn(model_dir):
            return None
        def predict_fn(data, model):
            return [[1.5, 2.0]]
        """, "pytorch")
    answer = invoke(service, "[1]", "application/json", "text/plain, text/csv, application/json")
    assert answer.status == 200
    assert answer.body == b"1.5,2.0\n"
    assert answer.content_type == "text/plain, text/csv, application/json"
    refused = invoke(service, "[1]", "application/json", "text/plain")
    assert refused.status == 500
    assert refused.body.startswith(b"output_fn (pytorch default): UnsupportedFormatError: "
                                   b"Content type text/plain is not supported")


def test_pytorch_missing_content_type_with_default_input_is_500(tmp_path):
    service = load(tmp_path, "def model_fn(d):\n    return None\n", "pytorch")
    answer = invoke(service, "[1]", "", "application/json")
    assert answer.status == 500
    assert b"Content type None is not supported" in answer.body


def test_pytorch_defaults_on_a_torchscript_model_npy_and_csv(tmp_path):
    import io

    torch = pytest.importorskip("torch")
    from handler_scripts import model_dir

    torch.jit.script(torch.nn.Linear(2, 1)).save(str(model_dir(tmp_path) / "model.pt"))
    service = load(tmp_path, None, "pytorch")
    reference = torch.jit.load(str(model_dir(tmp_path) / "model.pt"))
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    expected = reference(torch.from_numpy(x)).detach().numpy()
    buffer = io.BytesIO()
    np.save(buffer, x)
    answer = invoke(service, buffer.getvalue(), "application/x-npy", "application/x-npy")
    assert (answer.status, answer.content_type) == (200, "application/x-npy")
    assert np.allclose(np.load(io.BytesIO(answer.body)), expected)
    csv_answer = invoke(service, "1,2\n3,4", "text/csv", "text/csv")
    assert csv_answer.status == 200
    rows = [[float(v) for v in line.split(",")] for line in csv_answer.body.decode().split()]
    assert np.allclose(rows, expected)


def test_pytorch_context_is_per_request(tmp_path):
    service = load(tmp_path, """
        def model_fn(model_dir):
            return None
        def transform_fn(model, body, content_type, accept, context):
            if body == b"teapot":
                context.set_response_status(418, "teapot")
            return context.get_request_id(0) + " " + str(context.get_request_header(0, "accept"))
        """, "pytorch")
    first = invoke(service, "teapot", "application/octet-stream", "text/plain", inference_id="i1")
    second = invoke(service, "x", "application/octet-stream", "", inference_id="i2")
    assert (first.status, first.body) == (418, b"i1 text/plain")
    assert (second.status, second.body) == (200, b"i2 None")


# --- framework none ---------------------------------------------------------------------

def test_none_str_answer_takes_the_accept_and_tuples_their_own(tmp_path):
    service = load(tmp_path, """
        def predict_fn(data, model):
            if data == b"t":
                return "tuple", "application/x-t"
            if data == b"l":
                return [1]
            return data.decode().upper()
        """, "none", default_accept="text/plain")
    assert invoke(service, "abc", "", "").content_type == "text/plain"
    assert invoke(service, "abc", "", "text/x-up").body == b"ABC"
    answer = invoke(service, "t")
    assert (answer.body, answer.content_type) == (b"tuple", "application/x-t")
    refused = invoke(service, "l")
    assert refused.status == 500
    assert b"define output_fn" in refused.body


def test_none_input_and_output_fn(tmp_path):
    service = load(tmp_path, """
        import json
        def input_fn(body, content_type):
            return (json.loads(body), content_type)
        def predict_fn(data, model):
            return data
        def output_fn(prediction, accept):
            return json.dumps(prediction), "application/json"
        """, "none")
    answer = invoke(service, "[1, 2]", "application/json", "")
    assert (answer.status, answer.body, answer.content_type) == (
        200, b'[[1, 2], "application/json"]', "application/json")
    assert json.loads(invoke(service, "3", "", "").body) == [3, None]
