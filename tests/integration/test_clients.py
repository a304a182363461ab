"""The clients SageMaker users already have: boto3's sagemaker-runtime, the AWS CLI and curl,
against POST /endpoints/{name}/invocations. Dummy credentials; nothing leaves loopback."""
import json
import re
import shutil
import subprocess

import boto3
import pytest
from botocore.config import Config

from harness import identity

OK_NAME = "clients-it"
FAIL_NAME = "clients-fail"
FAIL_MESSAGE = (
    "Received server error (500) from container-2 (stage 'b') with message \"identity stage "
    "failing with status 500\". See the log of endpoint 'clients-fail', lines prefixed 'b |' "
    "for more information.")


@pytest.fixture(scope="module")
def ok(module_tandem_factory):
    return module_tandem_factory({"name": OK_NAME, "stages": [
        identity("a", append="|a"),
        identity("b", append="|b", custom_attributes="from-b"),
    ]})


@pytest.fixture(scope="module")
def failing(module_tandem_factory):
    return module_tandem_factory({"name": FAIL_NAME, "stages": [
        identity("a"), identity("b", fail_status=500), identity("c"),
    ]})


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials, and no configuration or credentials read from the machine."""
    env = {
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return env


def runtime(tandem):
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x",
                                    region_name="us-east-1")
    return session.client("sagemaker-runtime", endpoint_url=tandem.base_url,
                          config=Config(retries={"total_max_attempts": 1}))


# --- boto3 ------------------------------------------------------------------------------


def test_boto3_invoke_endpoint(ok, aws_env):
    response = runtime(ok).invoke_endpoint(
        EndpointName=OK_NAME, Body=b"1,2\n3,4", ContentType="text/csv", Accept="text/csv",
        CustomAttributes="c=1", InferenceId="boto-1")
    assert response["Body"].read() == b"1,2\n3,4|a|b"
    assert response["ContentType"] == "text/csv"
    assert response["CustomAttributes"] == "from-b"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    ok.wait_for_log(r"invocation id=boto-1 status=200")


def test_boto3_model_error(failing, aws_env):
    client = runtime(failing)
    with pytest.raises(client.exceptions.ModelError) as raised:
        client.invoke_endpoint(EndpointName=FAIL_NAME, Body=b"1,2", ContentType="text/csv")
    response = raised.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["Error"]["Message"] == FAIL_MESSAGE
    assert response["OriginalStatusCode"] == 500
    assert response["OriginalMessage"] == "identity stage failing with status 500"
    assert response["LogStreamArn"] == "the log of endpoint 'clients-fail', lines prefixed 'b |'"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424


def test_boto3_unknown_endpoint(ok, aws_env):
    client = runtime(ok)
    with pytest.raises(client.exceptions.ValidationError) as raised:
        client.invoke_endpoint(EndpointName="nope", Body=b"1", ContentType="text/csv")
    response = raised.value.response
    assert response["Error"]["Message"] == (
        f"Endpoint nope not found: this server serves endpoint '{OK_NAME}'")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- the AWS CLI ------------------------------------------------------------------------


def aws_cli(tmp_path, tandem, name, body, *extra):
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI (`aws`) is not on PATH")
    version = subprocess.run([aws, "--version"], capture_output=True, text=True, timeout=60)
    v2 = (version.stdout + version.stderr).startswith("aws-cli/2")
    out = tmp_path / "out.txt"
    args = [aws, "sagemaker-runtime", "invoke-endpoint", "--endpoint-url", tandem.base_url,
            "--endpoint-name", name, "--body", body, "--content-type", "text/csv", *extra]
    if v2:
        args += ["--cli-binary-format", "raw-in-base64-out"]
    result = subprocess.run([*args, str(out)], capture_output=True, text=True, timeout=120)
    return result, out, v2


def test_aws_cli_invoke_endpoint(ok, aws_env, tmp_path):
    result, out, _ = aws_cli(tmp_path, ok, OK_NAME, "1,2", "--custom-attributes", "c=1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"ContentType": "text/csv",
                                         "InvokedProductionVariant": "AllTraffic",
                                         "CustomAttributes": "from-b"}
    assert out.read_bytes() == b"1,2|a|b"


def test_aws_cli_model_error(failing, aws_env, tmp_path):
    result, out, v2 = aws_cli(tmp_path, failing, FAIL_NAME, "1,2")
    assert result.returncode == (254 if v2 else 255), result
    assert result.stderr.strip() == (
        f"An error occurred (ModelError) when calling the InvokeEndpoint operation: {FAIL_MESSAGE}")
    assert not out.exists()


# --- curl -------------------------------------------------------------------------------


def curl(*args):
    return subprocess.run(["curl", "-sS", "-i", *args], capture_output=True, timeout=30)


def split_response(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return lines[0], headers, body


def test_curl_invoke(ok):
    result = curl("-H", "Content-Type: text/csv", "-H", "X-Amzn-SageMaker-Inference-Id: curl-1",
                  "--data-binary", "1.5,2.0\n3.25,4.0",
                  f"{ok.base_url}/endpoints/{OK_NAME}/invocations")
    assert result.returncode == 0, result.stderr
    status, headers, body = split_response(result.stdout)
    assert status == "HTTP/1.1 200 OK"
    assert body == b"1.5,2.0\n3.25,4.0|a|b"
    assert headers["content-type"] == "text/csv"
    assert headers["x-amzn-invoked-production-variant"] == "AllTraffic"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "from-b"
    assert re.fullmatch(r"a;dur=\d+\.\d{3}, b;dur=\d+\.\d{3}, overhead;dur=\d+\.\d{3}, "
                        r"total;dur=\d+\.\d{3}", headers["server-timing"])


def test_curl_model_error(failing):
    result = curl("-H", "Content-Type: text/csv", "--data-binary", "1,2",
                  f"{failing.base_url}/invocations")
    assert result.returncode == 0, result.stderr
    status, headers, body = split_response(result.stdout)
    assert status == "HTTP/1.1 424 Failed Dependency"
    assert headers["x-amzn-errortype"] == "ModelError"
    assert json.loads(body) == {
        "ErrorCode": "SERVER_ERROR_FROM_MODEL", "Message": FAIL_MESSAGE,
        "OriginalStatusCode": 500, "OriginalMessage": "identity stage failing with status 500",
        "LogStreamArn": "the log of endpoint 'clients-fail', lines prefixed 'b |'",
        "Stage": "b", "Container": "container-2"}
    assert re.fullmatch(r"a;dur=\d+\.\d{3}, b;dur=\d+\.\d{3}, overhead;dur=\d+\.\d{3}, "
                        r"total;dur=\d+\.\d{3}", headers["server-timing"])
