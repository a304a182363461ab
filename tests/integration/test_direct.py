"""Direct mode: X-Amzn-SageMaker-Target-Container-Hostname picks the one stage called."""
import pytest

from harness import assert_error, assert_server_timing, identity

NAME = "direct-it"
TARGET = "X-Amzn-SageMaker-Target-Container-Hostname"


@pytest.fixture(scope="module")
def direct(module_tandem_factory):
    return module_tandem_factory({"name": NAME, "mode": "direct", "stages": [
        identity("alpha", append="|alpha"),
        identity("beta", echo_headers=1),
    ]})


def test_target_picks_one_stage(direct):
    res = direct.invoke(b"1,2", "text/csv", headers={TARGET: "alpha"})
    assert res.status == 200, res
    assert res.body == b"1,2|alpha"
    assert res.header("Content-Type") == "text/csv"
    assert_server_timing(res, ["alpha"])


def test_target_stage_gets_client_headers(direct):
    res = direct.invoke(b"1,2", "text/csv", path=f"/endpoints/{NAME}/invocations", headers={
        TARGET: "beta", "Accept": "application/json",
        "X-Amzn-SageMaker-Custom-Attributes": "c=1", "X-Amzn-SageMaker-Inference-Id": "direct-1"})
    assert res.status == 200, res
    assert res.header("x-Amzn-Invoked-Production-Variant") == "AllTraffic"
    assert res.json() == {"body": "1,2", "content_type": "text/csv", "accept": "application/json",
                          "custom_attributes": "c=1", "inference_id": "direct-1"}
    assert_server_timing(res, ["beta"])


def test_missing_target_is_400(direct):
    res = direct.invoke(b"1,2")
    assert_error(res, 400, "ValidationError",
                 f"pipeline '{NAME}' is in direct mode: set {TARGET} to one of its stages",
                 ErrorCode="ValidationError")


def test_unknown_target_is_400(direct):
    res = direct.invoke(b"1,2", headers={TARGET: "gamma"})
    assert_error(res, 400, "ValidationError",
                 f"{TARGET} 'gamma' names no stage of pipeline '{NAME}' (stages: alpha, beta)")


def test_container_name_is_not_a_hostname_when_stages_are_named(direct):
    res = direct.invoke(b"1,2", headers={TARGET: "container-1"})
    assert_error(res, 400, "ValidationError",
                 f"{TARGET} 'container-1' names no stage of pipeline '{NAME}' (stages: alpha, beta)")
