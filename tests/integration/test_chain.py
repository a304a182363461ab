"""A serial chain of three stages: what each stage receives, what the client gets back, the
runtime-API headers, the routes and keep-alive. One tandem serves the whole module; every
stage answers a JSON echo of what it received (TANDEM_IDENTITY_ECHO_HEADERS), so the client's
answer nests what c, b and a saw."""
import json
import re

import pytest

from harness import assert_error, assert_server_timing, identity, logging_stage

NAME = "chain-it"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

def build_spec() -> dict:
    return {"name": NAME, "stages": [
        # a answers a Content-Type with a parameter, and custom attributes.
        identity("a", echo_headers=1, content_type="application/x-a; charset=utf-8",
                 custom_attributes="from-a"),
        # b gets an Accept from the spec although it is not the last stage.
        identity("b", echo_headers=1, content_type="application/x-b",
                 spec={"accept": "application/x-b-accept"}),
        # c gets its Content-Type from the spec, whatever b answered.
        identity("c", echo_headers=1, content_type="application/x-c", custom_attributes="from-c",
                 spec={"content_type": "application/json"}),
    ]}


@pytest.fixture(scope="module")
def chain(module_tandem_factory):
    return module_tandem_factory(build_spec())


def unnest(res):
    """What c, b and a received, from the nested echo."""
    c = res.json()
    b = json.loads(c["body"])
    a = json.loads(b["body"])
    return a, b, c


def test_headers_and_content_types_per_stage(chain):
    body = b"1,2,3\n4,5,6"
    res = chain.invoke(body, "text/csv", path=f"/endpoints/{NAME}/invocations", headers={
        "Accept": "application/x-client",
        "X-Amzn-SageMaker-Custom-Attributes": "trace=1, tenant=7",
        "X-Amzn-SageMaker-Inference-Id": "inf-123",
    })
    assert res.status == 200, res
    assert res.header("Content-Type") == "application/x-c"
    assert res.header("x-Amzn-Invoked-Production-Variant") == "AllTraffic"
    assert res.header("X-Amzn-SageMaker-Custom-Attributes") == "from-c"
    assert UUID.fullmatch(res.header("x-amzn-RequestId") or ""), res
    assert_server_timing(res, ["a", "b", "c"])
    a, b, c = unnest(res)
    # The client's Content-Type to the first stage, no Accept to a stage that is not last.
    assert a == {"body": "1,2,3\n4,5,6", "content_type": "text/csv", "accept": "",
                 "custom_attributes": "trace=1, tenant=7", "inference_id": "inf-123"}
    # a's Content-Type verbatim, parameter included; b's Accept from the spec.
    assert {k: v for k, v in b.items() if k != "body"} == {
        "content_type": "application/x-a; charset=utf-8", "accept": "application/x-b-accept",
        "custom_attributes": "trace=1, tenant=7", "inference_id": "inf-123"}
    # The spec's content_type replaces b's; the client's Accept goes to the last stage.
    assert {k: v for k, v in c.items() if k != "body"} == {
        "content_type": "application/json", "accept": "application/x-client",
        "custom_attributes": "trace=1, tenant=7", "inference_id": "inf-123"}


def test_generated_inference_id_is_the_same_for_every_stage(chain):
    res = chain.invoke(b"x", "text/plain")
    assert res.status == 200, res
    a, b, c = unnest(res)
    assert a["inference_id"] == b["inference_id"] == c["inference_id"]
    assert UUID.fullmatch(a["inference_id"]), a
    assert a["custom_attributes"] == "" and c["custom_attributes"] == ""
    assert c["accept"] == ""  # the client sent none
    chain.wait_for_log(rf"invocation id={a['inference_id']} status=200 total=\d+\.\d+ms "
                       r"a=\d+\.\d+ms\(200\) b=\d+\.\d+ms\(200\) c=\d+\.\d+ms\(200\)")


def test_no_client_content_type_reaches_the_first_stage_as_none(chain):
    res = chain.invoke(b"raw", content_type=None)
    assert res.status == 200, res
    a, _, _ = unnest(res)
    assert a["content_type"] == "" and a["body"] == "raw"


def test_custom_attributes_at_the_limit_pass_through(chain):
    value = "k=" + "v" * 1022  # 1024 visible ASCII characters
    res = chain.invoke(headers={"X-Amzn-SageMaker-Custom-Attributes": value})
    assert res.status == 200, res
    a, b, c = unnest(res)
    assert a["custom_attributes"] == b["custom_attributes"] == c["custom_attributes"] == value


@pytest.mark.parametrize("header, value, message", [
    ("X-Amzn-SageMaker-Custom-Attributes", "k=" + "v" * 1023,
     "X-Amzn-SageMaker-Custom-Attributes must be at most 1024 visible ASCII characters (got 1025 bytes)"),
    ("X-Amzn-SageMaker-Inference-Id", "i" * 65,
     "X-Amzn-SageMaker-Inference-Id must be 1-64 printable ASCII characters"),
    ("X-Amzn-SageMaker-Inference-Id", "caf\u00e9",
     "X-Amzn-SageMaker-Inference-Id must be 1-64 printable ASCII characters"),
    ("X-Amzn-SageMaker-Target-Variant", "blue",
     "X-Amzn-SageMaker-Target-Variant 'blue' names no variant of this endpoint; its only variant is AllTraffic"),
    ("X-Amzn-SageMaker-Target-Container-Hostname", "b",
     "X-Amzn-SageMaker-Target-Container-Hostname is only valid for a pipeline in direct mode; "
     f"pipeline '{NAME}' is serial"),
])
def test_invalid_runtime_headers_are_validation_errors(chain, header, value, message):
    res = chain.invoke(headers={header: value})
    assert_error(res, 400, "ValidationError", message, ErrorCode="ValidationError")
    # No stage was called: Server-Timing lists none.
    assert_server_timing(res, [])


def test_target_variant_alltraffic_is_accepted(chain):
    res = chain.invoke(headers={"X-Amzn-SageMaker-Target-Variant": "AllTraffic"})
    assert res.status == 200, res


def test_keep_alive_many_requests_on_one_connection(chain):
    conn = chain.connection()
    try:
        conn.connect()
        sock = conn.sock
        local = sock.getsockname()
        for i in range(40):
            if i % 10 == 9:
                conn.request("GET", "/ping")
                res = conn.getresponse()
                assert (res.status, res.read()) == (200, b'{"status":"Healthy"}\n')
            else:
                payload = f"row-{i}".encode()
                conn.request("POST", "/invocations", body=payload,
                             headers={"Content-Type": "text/csv"})
                res = conn.getresponse()
                data = res.read()
                assert res.status == 200, data
                assert json.loads(json.loads(json.loads(data)["body"])["body"])["body"] == f"row-{i}"
            assert res.getheader("Connection", "").lower() != "close"
            # http.client drops its socket when the server closes the connection.
            assert conn.sock is sock and sock.getsockname() == local, f"reconnected at request {i}"
    finally:
        conn.close()


def test_ping_healthy(chain):
    res = chain.ping()
    assert res.status == 200
    assert res.header("Content-Type") == "application/json"
    assert res.body == b'{"status":"Healthy"}\n'


def test_unknown_route_is_404(chain):
    res = chain.request("GET", "/nope")
    assert_error(res, 404, "ValidationError",
                 f"no route for /nope; routes are GET /ping, POST /invocations, "
                 f"POST /endpoints/{NAME}/invocations, GET /execution-parameters, GET /metrics")


def test_other_endpoint_name_is_404(chain):
    res = chain.invoke(path="/endpoints/wrong/invocations")
    assert_error(res, 404, "ValidationError",
                 f"Endpoint wrong not found: this server serves endpoint '{NAME}'")


@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/invocations", "POST"),
    ("PUT", f"/endpoints/{NAME}/invocations", "POST"),
    ("POST", "/ping", "GET"),
    ("DELETE", "/execution-parameters", "GET"),
])
def test_wrong_method_is_405_with_allow(chain, method, path, allowed):
    res = chain.request(method, path, body=b"" if method in ("POST", "PUT") else None)
    assert_error(res, 405, "ValidationError",
                 f"{method} {path} is not supported; use {allowed}")
    # RFC 9110 15.5.6: a 405 response MUST carry Allow.
    allow = res.header("Allow")
    assert allow == allowed, f"405 for {method} {path} has Allow: {allow!r}, expected {allowed!r}"


def test_execution_parameters_defaults(chain):
    res = chain.request("GET", "/execution-parameters")
    assert res.status == 200, res
    assert res.header("Content-Type") == "application/json"
    assert res.json() == {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD",
                          "MaxPayloadInMB": 6}


def test_last_stage_custom_attributes_only(tandem_factory):
    """A middle stage's custom attributes do not reach the client; the last stage's do."""
    first = identity("first", append="|first", custom_attributes="from-first")
    last = identity("last", append="|last")
    tandem = tandem_factory({"name": "attrs", "stages": [first, last]})
    res = tandem.invoke(b"in", "text/plain",
                        headers={"X-Amzn-SageMaker-Custom-Attributes": "client"})
    assert res.status == 200, res
    assert res.body == b"in|first|last"
    assert res.header("Content-Type") == "text/plain"
    assert res.header("X-Amzn-SageMaker-Custom-Attributes") is None, res


def test_execution_parameters_precedence(tandem_factory):
    """The spec's value, else the first stage's valid answer, else the default."""
    tandem = tandem_factory({
        "name": "params-it",
        "execution_parameters": {"batch_strategy": "SINGLE_RECORD"},
        "stages": [logging_stage("first", env={"LOGGING_STAGE_EXECUTION_PARAMETERS": json.dumps(
            {"MaxConcurrentTransforms": 8, "BatchStrategy": "MULTI_RECORD",
             "MaxPayloadInMB": "big"})})]})
    res = tandem.request("GET", "/execution-parameters")
    assert res.status == 200, res
    assert res.json() == {"MaxConcurrentTransforms": 8, "BatchStrategy": "SINGLE_RECORD",
                          "MaxPayloadInMB": 6}
