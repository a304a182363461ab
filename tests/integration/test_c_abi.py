"""The stage SDK's C ABI (stages/sdk/include/tandem_stage.h): the C example stage
(examples/c-stage, tandem-example-c, linked against libtandem_stage.so.1) served by tandem
over HTTP and over shared memory, alone and chained."""
import os

import pytest

from harness import bin_dir

HEADERS = {"X-Amzn-SageMaker-Inference-Id": "id-c"}


def c_stage(name: str, transport: str, **env: str) -> dict:
    exe = bin_dir() / "tandem-example-c"
    if not os.access(exe, os.X_OK):
        pytest.fail(f"no {exe}; build the target tandem-example-c", pytrace=False)
    stage = {"name": name, "command": [str(exe)], "transport": transport}
    if env:
        stage["env"] = env
    return stage


@pytest.mark.parametrize("transport", ["http", "shm"])
def test_c_stage_upper_cases_its_input(tandem_factory, transport):
    tandem = tandem_factory({"name": f"c-{transport}", "stages": [c_stage("c", transport)]})
    if transport == "shm":
        tandem.wait_for_log(r"c \| stage serving shared memory \(\d+ slots\)")
    res = tandem.invoke(b"hello, world 1", "text/csv; charset=utf-8", headers=HEADERS)
    assert res.status == 200, res
    assert res.body == b"HELLO, WORLD 1"
    assert res.header("Content-Type") == "text/csv; charset=utf-8"
    # No Content-Type in, none from the stage (tandem answers its default then); bytes other
    # than ASCII letters cross unchanged.
    body = bytes(range(256)) * 64
    res = tandem.invoke(body, None)
    assert res.status == 200, res
    assert res.body == bytes(b - 32 if 97 <= b <= 122 else b for b in body)
    assert res.header("Content-Type") == "application/octet-stream"


def test_c_stages_chained_over_shm_and_http(tandem_factory):
    tandem = tandem_factory({"name": "c-chain", "stages": [
        c_stage("echo", "shm", EXAMPLE_C_ECHO="1"),
        c_stage("upper", "http"),
        c_stage("again", "shm", EXAMPLE_C_ECHO="1"),
    ]})
    res = tandem.invoke(b"a,b,c", "text/plain", headers=HEADERS)
    assert res.status == 200, res
    assert res.body == b"A,B,C"
    assert res.header("Content-Type") == "text/plain"
