"""A real S3 API for the integration tests: moto_server started once per test module on a
port of its own, a bucket per test, and the environment that points tandem's S3 client at it.
A test module imports the fixtures it uses: `from s3_support import s3, s3_endpoint, s3_env`."""
import os
import re
import shutil
import subprocess

import pytest

from harness import wait_until

S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                  "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    program = shutil.which("moto_server")
    if program is None:
        pytest.skip("moto_server is not on PATH (deploy/setup.sh installs it where a package "
                    "registry allows)")
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([program, "-H", "127.0.0.1", "-p", "0"], stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        match = wait_until(
            lambda: re.search(r"Running on http://127\.0\.0\.1:(\d+)", log_path.read_text()),
            90, lambda: f"moto_server to start; its log: {log_path.read_text()}")
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3(s3_endpoint, request):
    """A boto3 client and a bucket of the test's own."""
    import boto3
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    bucket = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50] + f"-{os.getpid()}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def s3_env(endpoint: str) -> dict:
    """What a tandem process needs to reach the server."""
    return {**S3_CREDENTIALS, "AWS_ENDPOINT_URL_S3": endpoint}
