"""Service.load: which handlers an entry-point script gets per framework, and the one-line
StartupError of each script that cannot be served."""

import numpy as np
import pytest

from handler_scripts import Service, StartupError, invoke, load, model_dir, write_code


def startup_error(tmp_path, source, framework, **kwargs):
    with pytest.raises(StartupError) as info:
        load(tmp_path, source, framework, **kwargs)
    line = str(info.value)
    assert "\n" not in line
    return line


# --- handler resolution ----------------------------------------------------------------------

def test_sklearn_model_fn_only_uses_the_container_defaults_on_a_real_model(tmp_path):
    from sklearn.linear_model import LinearRegression
    import joblib

    x = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [0.0, 1.0]])
    model = LinearRegression().fit(x, x @ np.array([1.0, 2.0]) + 0.5)
    joblib.dump(model, model_dir(tmp_path) / "model.joblib")
    service = load(
        tmp_path,
        """
        import os
        import joblib

        def model_fn(model_dir):
            return joblib.load(os.path.join(model_dir, "model.joblib"))
        """,
        "sklearn",
    )
    answer = invoke(service, "1,2\n3,3", "text/csv", "text/csv")
    assert answer.status == 200
    assert answer.content_type == "text/csv; charset=utf-8"
    assert [round(float(v), 4) for v in answer.body.decode().split()] == [5.5, 9.5]
    answer = invoke(service, "[[1, 2]]", "application/json", "application/json")
    assert (answer.status, answer.content_type) == (200, "application/json")
    assert [round(v, 4) for v in __import__("json").loads(answer.body)] == [5.5]


ALL_FOUR = """
calls = []

def model_fn(model_dir):
    return {"model_dir": model_dir}

def input_fn(body, content_type):
    calls.append(("input_fn", type(body).__name__, content_type))
    return body

def predict_fn(data, model):
    calls.append(("predict_fn", model["model_dir"] != ""))
    return data

def output_fn(prediction, accept):
    calls.append(("output_fn", accept))
    return prediction, "text/plain"
"""


@pytest.mark.parametrize("framework", ["sklearn", "xgboost"])
def test_flask_family_all_four_functions_get_the_containers_arguments(tmp_path, framework):
    service = load(tmp_path, ALL_FOUR, framework)
    module = __import__("inference")
    answer = invoke(service, "a,b", "text/csv", "text/csv")
    assert (answer.status, answer.body, answer.content_type) == (
        200, b"a,b", "text/plain; charset=utf-8")
    assert module.calls == [("input_fn", "str", "text/csv"), ("predict_fn", True),
                            ("output_fn", "text/csv")]
    assert service.model == {"model_dir": str(model_dir(tmp_path))}


def test_transform_fn_gets_model_body_content_type_and_accept(tmp_path):
    service = load(
        tmp_path,
        """
        def model_fn(model_dir):
            return "M"

        def transform_fn(model, body, content_type, accept):
            return "%s|%s|%s|%s" % (model, body, content_type, accept), "text/plain"
        """,
        "sklearn",
    )
    answer = invoke(service, b"\x00raw", "application/octet-stream", "text/plain")
    assert answer.body == b"M|b'\\x00raw'|application/octet-stream|text/plain"


@pytest.mark.parametrize("framework", ["sklearn", "xgboost", "pytorch", "none"])
def test_transform_fn_with_predict_fn_is_an_error_at_load_naming_both_lines(tmp_path, framework):
    line = startup_error(
        tmp_path,
        """
        def model_fn(model_dir):
            return None

        def predict_fn(data, model):
            return data

        def transform_fn(model, body, content_type, accept):
            return body
        """,
        framework,
    )
    assert line.startswith("inference.py:8: transform_fn cannot be used together with predict_fn")
    assert "predict_fn at inference.py:5" in line


@pytest.mark.parametrize("framework", ["sklearn", "xgboost"])
def test_missing_model_fn_is_an_error_at_load_in_the_flask_family(tmp_path, framework):
    line = startup_error(tmp_path, "def predict_fn(data, model):\n    return data\n", framework)
    assert line.startswith("inference.py: no model_fn: the %s container" % framework)


def test_missing_program_file_is_an_error_in_the_flask_family(tmp_path):
    line = startup_error(tmp_path, None, "sklearn")
    assert line.startswith("SAGEMAKER_PROGRAM=inference.py: no inference.py in the code directory")


def test_unset_program_is_an_error_in_the_flask_family(tmp_path):
    line = startup_error(tmp_path, "def model_fn(d):\n    return 1\n", "xgboost", program="")
    assert line.startswith("SAGEMAKER_PROGRAM is not set")


def test_unknown_framework_is_an_error(tmp_path):
    line = startup_error(tmp_path, "def model_fn(d):\n    return 1\n", "tensorflow")
    assert line == "TANDEM_FRAMEWORK=tensorflow: expected one of sklearn, xgboost, pytorch, none"


def test_program_without_py_suffix_names_the_module(tmp_path):
    code = write_code(tmp_path, "def model_fn(d):\n    return 7\n", program="serve_me.py")
    service = Service.load(program="serve_me", code_dir=str(code),
                           model_dir=str(model_dir(tmp_path)), framework="sklearn")
    assert service.model == 7
    assert service.module_file == "serve_me.py"


def test_a_package_entry_point_is_found(tmp_path):
    code = tmp_path / "code"
    (code / "pkgentry").mkdir(parents=True)
    (code / "pkgentry" / "__init__.py").write_text("def model_fn(d):\n    return 'pkg'\n")
    service = Service.load(program="pkgentry", code_dir=str(code),
                           model_dir=str(model_dir(tmp_path)), framework="sklearn")
    assert service.model == "pkg"


def test_code_dir_comes_first_on_sys_path_so_sibling_modules_import(tmp_path):
    service = load(
        tmp_path,
        """
        import sibling_helper_a

        def model_fn(model_dir):
            return sibling_helper_a.VALUE
        """,
        "sklearn",
        extra={"sibling_helper_a.py": "VALUE = 'from the code dir'\n"},
    )
    assert service.model == "from the code dir"


def test_none_without_model_fn_has_model_none_and_raw_bytes(tmp_path):
    service = load(
        tmp_path,
        """
        def predict_fn(data, model):
            assert model is None
            return b"got " + data
        """,
        "none",
    )
    assert service.model is None
    answer = invoke(service, "[1]", "application/json", "text/plain")
    assert (answer.status, answer.body, answer.content_type) == (200, b"got [1]", "text/plain")


def test_none_without_predict_fn_or_transform_fn_is_an_error(tmp_path):
    line = startup_error(tmp_path, "def model_fn(d):\n    return 1\n", "none")
    assert line.startswith("inference.py: no predict_fn and no transform_fn")


def test_a_handler_that_is_not_a_function_is_an_error(tmp_path):
    line = startup_error(tmp_path, "model_fn = 3\n", "sklearn")
    assert line == "inference.py: model_fn is a int, not a function"


# --- start-up errors ---------------------------------------------------------------------------

def test_syntax_error_names_file_and_line(tmp_path):
    source = "import os\n\ndef model_fn(model_dir)\n    return 1\n"
    line = startup_error(tmp_path, source, "sklearn")
    assert line.startswith("inference.py:3: SyntaxError: ")


def test_syntax_error_in_an_imported_user_module_names_that_module(tmp_path):
    line = startup_error(
        tmp_path,
        "import broken_helper_b\n\ndef model_fn(d):\n    return 1\n",
        "sklearn",
        extra={"broken_helper_b.py": "x = 1\ny = (\n"},
    )
    assert line.startswith("broken_helper_b.py:2: SyntaxError: ")


def test_missing_module_names_it_with_the_importing_line_and_no_registry(tmp_path):
    line = startup_error(
        tmp_path,
        "import os\nimport not_installed_pkg_zz\n\ndef model_fn(d):\n    return 1\n",
        "pytorch",
    )
    assert line.startswith("inference.py:2: no module named 'not_installed_pkg_zz' "
                           "(imported by inference.py)")
    assert "no package registry" in line


def test_missing_module_imported_by_a_user_helper_names_the_helper_line(tmp_path):
    line = startup_error(
        tmp_path,
        "import helper_c\n\ndef model_fn(d):\n    return 1\n",
        "sklearn",
        extra={"helper_c.py": "\n\nfrom absent_dep_zz.sub import thing\n"},
    )
    assert line.startswith("helper_c.py:3: no module named 'absent_dep_zz'")


def test_missing_shim_submodule_says_what_the_shims_provide(tmp_path):
    line = startup_error(
        tmp_path, "from sagemaker_inference import model_server\n", "pytorch")
    assert line.startswith("inference.py:1: ")
    assert "sagemaker_inference" in line and "provides only the modules" in line


def test_exception_at_import_names_the_line(tmp_path):
    line = startup_error(tmp_path, "x = 1\ny = undefined_name\n", "sklearn")
    assert line == ("inference.py:2: importing inference.py failed: "
                    "NameError: name 'undefined_name' is not defined")


def test_argparse_at_module_level_is_a_startup_error_not_an_exit(tmp_path):
    line = startup_error(
        tmp_path,
        "import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--epochs', "
        "required=True)\nargs = parser.parse_args([])\n",
        "sklearn",
    )
    assert line == "inference.py:4: importing inference.py failed: SystemExit: 2"


def test_exception_in_model_fn_names_the_innermost_user_line(tmp_path):
    line = startup_error(
        tmp_path,
        """
        import os

        def _load(path):
            with open(path) as f:
                return f.read()

        def model_fn(model_dir):
            return _load(os.path.join(model_dir, "missing.bin"))
        """,
        "sklearn",
    )
    assert line.startswith("inference.py:5: model_fn failed: FileNotFoundError: ")
    assert "missing.bin" in line


def test_startup_error_keeps_the_traceback_as_details(tmp_path):
    with pytest.raises(StartupError) as info:
        load(tmp_path, "def model_fn(d):\n    raise ValueError('no weights')\n", "sklearn")
    assert str(info.value) == "inference.py:2: model_fn failed: ValueError: no weights"
    assert "Traceback" in info.value.details


def test_a_second_load_runs_the_new_script(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = load(tmp_path / "a", "def model_fn(d):\n    return 'a'\n", "sklearn")
    second = load(tmp_path / "b", "def model_fn(d):\n    return 'b'\n", "sklearn")
    assert (first.model, second.model) == ("a", "b")


# --- pytorch -----------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


class TwoLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(3, 4)
        self.second = torch.nn.Linear(4, 2)
        with torch.no_grad():
            self.first.weight.copy_(torch.arange(12, dtype=torch.float32).reshape(4, 3) / 10)
            self.first.bias.fill_(0.1)
            self.second.weight.copy_(torch.ones(2, 4))
            self.second.bias.copy_(torch.tensor([0.0, -1.0]))

    def forward(self, x):
        return self.second(torch.relu(self.first(x)))


def save_torchscript(directory, name="model.pt"):
    module = TwoLayer()
    torch.jit.script(module).save(str(directory / name))
    return module


def test_pytorch_without_a_script_serves_a_torchscript_model_with_all_defaults(tmp_path):
    reference = save_torchscript(model_dir(tmp_path))
    service = load(tmp_path, None, "pytorch")
    assert service.module_file is None
    answer = invoke(service, "[[1, 2, 3]]", "application/json", "application/json")
    expected = reference(torch.tensor([[1.0, 2.0, 3.0]])).tolist()
    assert (answer.status, answer.content_type) == (200, "application/json")
    got = __import__("json").loads(answer.body)
    assert np.allclose(got, expected)


def test_pytorch_empty_program_means_inference_py(tmp_path):
    save_torchscript(model_dir(tmp_path), "weights.pth")
    service = load(tmp_path, "def predict_fn(data, model):\n    return 'custom'\n", "pytorch",
                   program="")
    assert service.module_file == "inference.py"
    answer = invoke(service, "[[1, 2, 3]]", "application/json")
    assert answer.body == b'"custom"'  # the default output_fn's JSON


def test_pytorch_default_model_fn_without_a_model_file_is_a_startup_error(tmp_path):
    line = startup_error(tmp_path, None, "pytorch")
    assert line == ("%s: model_fn (pytorch default) failed: ValueError: Exactly one .pth or .pt "
                    "file is required for PyTorch models: []" % model_dir(tmp_path))


def test_pytorch_handlers_with_a_trailing_context(tmp_path):
    service = load(
        tmp_path,
        """
        def model_fn(model_dir, context):
            return context.system_properties["model_dir"]

        def input_fn(body, content_type, context):
            return context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")

        def predict_fn(data, model):
            return [data, model.endswith("model")]

        def output_fn(prediction, accept, context):
            context.set_response_status(202, "Accepted")
            context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", "seen")
            return prediction
        """,
        "pytorch",
    )
    assert service.model == str(model_dir(tmp_path))
    answer = invoke(service, "{}", "application/json", "application/json",
                    custom_attributes="trace=1")
    assert answer.status == 202
    assert answer.custom_attributes == "seen"
    assert __import__("json").loads(answer.body) == ["trace=1", True]


def test_pytorch_handler_with_a_wrong_arity_is_a_startup_error(tmp_path):
    line = startup_error(
        tmp_path,
        "def model_fn(d):\n    return 1\n\ndef predict_fn(data):\n    return data\n",
        "pytorch",
    )
    assert line == ("inference.py:4: predict_fn takes 1 arguments; it must take 2 "
                    "(or 3 with a trailing context)")


def test_pytorch_pre_model_fn_and_warmup_run_at_load(tmp_path):
    service = load(
        tmp_path,
        """
        seen = []

        def pre_model_fn(model_dir):
            seen.append("pre")

        def model_fn(model_dir):
            seen.append("model")
            return "M"

        def model_warmup_fn(model_dir, model):
            seen.append("warmup " + model)

        def predict_fn(data, model):
            return data
        """,
        "pytorch",
    )
    assert __import__("inference").seen == ["pre", "model", "warmup M"]
    assert service.model == "M"
