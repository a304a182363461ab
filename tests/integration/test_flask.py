"""A real BYOC stage in a chain: tests/stages/serve_flask (Flask under gunicorn's sync worker,
which closes every connection). It takes exactly `text/csv` (415 otherwise), upper-cases each
line and appends a column (`flask`, or suffix.txt from its model_dir), answers
`text/csv; charset=utf-8` (Flask's default) and echoes the custom attributes."""
import re

import pytest

from harness import assert_error, assert_server_timing, flask_stage, identity

CSV_IN = b"a,b\nc,d"


def model_dir(tmp_path_factory, suffix: str) -> str:
    path = tmp_path_factory.mktemp(f"model-{suffix}")
    (path / "suffix.txt").write_text(f"{suffix}\n")
    return str(path)


@pytest.fixture(scope="module")
def middle(module_tandem_factory):
    return module_tandem_factory({"name": "flask-mid", "stages": [
        identity("pre"), flask_stage("flask"), identity("post", echo_headers=1)]})


def pair_spec(tmp_path_factory, name: str, normalise: bool) -> dict:
    second = flask_stage("second", model_dir=model_dir(tmp_path_factory, "two"))
    if normalise:
        second["content_type"] = "text/csv"
    return {"name": name, "stages": [
        flask_stage("first", model_dir=model_dir(tmp_path_factory, "one")), second]}


@pytest.fixture(scope="module")
def pair(module_tandem_factory, tmp_path_factory):
    return module_tandem_factory(pair_spec(tmp_path_factory, "flask-pair", normalise=False))


@pytest.fixture(scope="module")
def normalised_pair(module_tandem_factory, tmp_path_factory):
    return module_tandem_factory(pair_spec(tmp_path_factory, "flask-norm", normalise=True))


def test_flask_in_the_middle_passes_its_content_type_verbatim(middle):
    res = middle.invoke(CSV_IN, "text/csv", headers={
        "Accept": "application/json", "X-Amzn-SageMaker-Custom-Attributes": "k=v",
        "X-Amzn-SageMaker-Inference-Id": "flask-1"})
    assert res.status == 200, res
    assert res.header("Content-Type") == "application/json"
    assert_server_timing(res, ["pre", "flask", "post"])
    assert res.json() == {"body": "A,B,flask\nC,D,flask", "content_type": "text/csv; charset=utf-8",
                          "accept": "application/json", "custom_attributes": "k=v",
                          "inference_id": "flask-1"}


def test_charset_parameter_breaks_an_exact_match_stage(pair):
    """SageMaker's known pitfall, reproduced: the second stage gets `text/csv; charset=utf-8`
    verbatim and answers 415; the client learns which stage and why."""
    res = pair.invoke(CSV_IN, "text/csv")
    original = "flask stage accepts text/csv, got text/csv; charset=utf-8"
    assert_error(
        res, 424, "ModelError",
        f'Received client error (415) from container-2 (stage \'second\') with message '
        f'"{original}". See the log of endpoint \'flask-pair\', lines prefixed \'second |\' for '
        f"more information.",
        ErrorCode="CLIENT_ERROR_FROM_MODEL", OriginalStatusCode=415, OriginalMessage=original,
        Stage="second", Container="container-2")
    assert_server_timing(res, ["first", "second"])


def test_spec_content_type_normalises_it(normalised_pair):
    res = normalised_pair.invoke(CSV_IN + b"\n", "text/csv",
                                 headers={"X-Amzn-SageMaker-Custom-Attributes": "trace=9"})
    assert res.status == 200, res
    # model_dir reached each stage as SM_MODEL_DIR: each appended its own suffix.
    assert res.body == b"A,B,ONE,two\nC,D,ONE,two\n"
    assert res.header("Content-Type") == "text/csv; charset=utf-8"
    assert res.header("X-Amzn-SageMaker-Custom-Attributes") == "trace=9"


def test_client_content_type_refused_by_the_first_stage(normalised_pair):
    res = normalised_pair.invoke(b'{"a": 1}', "application/json")
    assert_error(
        res, 424, "ModelError",
        re.compile(r"Received client error \(415\) from container-1 \(stage 'first'\) with "
                   r'message "flask stage accepts text/csv, got application/json"\. See .*'),
        OriginalStatusCode=415, Stage="first", Container="container-1")
    assert_server_timing(res, ["first"])


def test_many_requests_on_one_client_connection_through_closing_stages(normalised_pair):
    """gunicorn's sync worker closes every connection: tandem opens new ones to it while the
    client keeps its own connection."""
    conn = normalised_pair.connection()
    try:
        conn.connect()
        sock = conn.sock
        for i in range(25):
            conn.request("POST", "/invocations", body=f"row,{i}".encode(),
                         headers={"Content-Type": "text/csv"})
            res = conn.getresponse()
            data = res.read()
            assert (res.status, data) == (200, f"ROW,{i},ONE,two".encode()), (i, data)
            assert conn.sock is sock, f"tandem closed the client connection at request {i}"
    finally:
        conn.close()
