"""Data capture in `tandem serve`: SageMaker's record format and layout field by field, text and
base64 encodings, sampling, rotation, stage records, failed invocations, an S3 destination, a
full queue behind a stalled destination, and records flushed whole on SIGTERM."""
import base64
import datetime
import json
import re
import socket
import threading

from capture_support import CAPTURE_FILE_RE, capture_files, records
from s3_support import S3_CREDENTIALS, s3, s3_endpoint, s3_env  # noqa: F401 (fixtures)
from harness import identity


def capture_spec(folder, pipeline_stages=None, **capture):
    return {"version": 1, "name": "cap",
            "capture": {"destination": str(folder), "rotate_s": 3600, **capture},
            "stages": pipeline_stages or [identity("one"), identity("two")]}


def test_a_record_has_the_contract_fields_and_layout(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    tandem = tandem_factory(capture_spec(folder))
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    res = tandem.invoke(b"1,2,3", headers={"X-Amzn-SageMaker-Inference-Id": "inf-42",
                                           "X-Amzn-SageMaker-Custom-Attributes": "trace=abc",
                                           "Accept": "text/csv"})
    assert res.status == 200, res
    assert tandem.terminate() == 0
    after = datetime.datetime.now(datetime.timezone.utc)
    files = capture_files(folder)
    assert len(files) == 1, files
    [(name, lines)] = files.items()
    match = CAPTURE_FILE_RE.fullmatch(name)
    assert match and match["endpoint"] == "cap", name
    [record] = lines
    assert list(record) == ["captureData", "eventMetadata", "eventVersion", "tandem"]
    assert record["captureData"] == {
        "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2,3",
                          "encoding": "CSV"},
        "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "1,2,3",
                           "encoding": "CSV"}}
    metadata = record["eventMetadata"]
    assert list(metadata) == ["eventId", "inferenceTime", "inferenceId", "customAttributes"]
    assert metadata["eventId"] == res.header("x-amzn-RequestId")
    assert metadata["inferenceId"] == "inf-42"
    assert metadata["customAttributes"] == "trace=abc"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["inferenceTime"])
    time = datetime.datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    assert before <= time <= after
    assert (match["y"], match["m"], match["d"], match["h"]) == (
        f"{time.year:04}", f"{time.month:02}", f"{time.day:02}", f"{time.hour:02}")
    assert record["eventVersion"] == "0"
    # tandem's extension: the client's Accept, which SageMaker's format does not keep.
    assert record["tandem"] == {"accept": "text/csv"}
    assert "capture: 1 record(s) written in 1 file(s)" in tandem.log()


def test_without_inference_id_accept_or_error_a_record_is_exactly_sagemakers(tandem_factory,
                                                                               tmp_path):
    folder = tmp_path / "capture"
    tandem = tandem_factory(capture_spec(folder))
    assert tandem.invoke(b"1,2,3").status == 200
    assert tandem.terminate() == 0
    [record] = records(folder)
    assert list(record) == ["captureData", "eventMetadata", "eventVersion"]
    assert list(record["eventMetadata"]) == ["eventId", "inferenceTime"]


def test_unlisted_content_types_are_base64_and_listed_ones_text(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    tandem = tandem_factory(capture_spec(folder, csv_content_types=["text/csv"],
                                         json_content_types=["application/json"]))
    binary = bytes(range(256))
    assert tandem.invoke(binary, "application/x-npy").status == 200
    assert tandem.invoke(b'{"instances": [1, 2]}', "application/json").status == 200
    assert tandem.invoke("é,1".encode(), "text/csv; charset=utf-8").status == 200
    assert tandem.terminate() == 0
    by_type = {r["captureData"]["endpointInput"]["observedContentType"]: r
               for r in records(folder)}
    npy = by_type["application/x-npy"]["captureData"]
    assert npy["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(npy["endpointInput"]["data"]) == binary
    assert npy["endpointOutput"]["encoding"] == "BASE64"
    js = by_type["application/json"]["captureData"]["endpointInput"]
    assert (js["encoding"], js["data"]) == ("JSON", '{"instances": [1, 2]}')
    csv = by_type["text/csv; charset=utf-8"]["captureData"]["endpointInput"]
    assert (csv["encoding"], csv["data"]) == ("CSV", "é,1")


def test_modes_output_only(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    tandem = tandem_factory(capture_spec(folder, modes=["Output"]))
    assert tandem.invoke(b"7").status == 200
    assert tandem.terminate() == 0
    [record] = records(folder)
    assert list(record["captureData"]) == ["endpointOutput"]


def test_sampling_keeps_the_configured_share(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    tandem = tandem_factory(capture_spec(folder, sampling_percentage=25))
    for i in range(40):
        assert tandem.invoke(f"{i}".encode()).status == 200
    assert tandem.terminate() == 0
    kept = [r["captureData"]["endpointInput"]["data"] for r in records(folder)]
    assert kept == ["3", "7", "11", "15", "19", "23", "27", "31", "35", "39"]


def test_sampling_zero_writes_nothing(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    tandem = tandem_factory(capture_spec(folder, sampling_percentage=0))
    assert tandem.invoke(b"1").status == 200
    assert tandem.terminate() == 0
    assert not folder.exists() or capture_files(folder) == {}


def test_files_rotate_by_size_with_whole_records(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    tandem = tandem_factory(capture_spec(folder, max_file_mb=0.002))  # about 2 KiB
    bodies = [f"{i}," * 100 for i in range(12)]  # records of about 1 KiB
    for body in bodies:
        assert tandem.invoke(body.encode()).status == 200
    assert tandem.terminate() == 0
    files = capture_files(folder)
    assert len(files) >= 4, list(files)
    for name, lines in files.items():
        assert CAPTURE_FILE_RE.fullmatch(name), name
        assert 1 <= len(lines) <= 2
    assert sorted(r["captureData"]["endpointInput"]["data"] for rs in files.values()
                  for r in rs) == sorted(bodies)


def test_stage_records_and_failed_invocations(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    stages = [identity("feat", append=",f"), identity("model", append=",m")]
    tandem = tandem_factory(capture_spec(folder, stages, stages=True))
    assert tandem.invoke(b"1").status == 200
    assert tandem.terminate() == 0
    [record] = records(folder)
    assert record["captureData"]["endpointOutput"]["data"] == "1,f,m"
    [feat, model] = record["tandem"]["stages"]
    assert (feat["stage"], feat["container"], feat["status"]) == ("feat", "container-1", 200)
    assert feat["input"]["data"] == "1" and feat["output"]["data"] == "1,f"
    assert (model["stage"], model["container"]) == ("model", "container-2")
    assert model["input"]["data"] == "1,f" and model["output"]["data"] == "1,f,m"
    assert isinstance(model["durationUs"], int) and model["durationUs"] > 0


def test_a_failed_invocation_is_captured_with_its_status(tandem_factory, tmp_path):
    folder = tmp_path / "capture"
    stages = [identity("feat"), identity("model", fail_status=500)]
    tandem = tandem_factory(capture_spec(folder, stages, stages=True))
    res = tandem.invoke(b"1")
    assert res.status == 424
    assert tandem.terminate() == 0
    [record] = records(folder)
    assert record["tandem"]["status"] == 424
    output = record["captureData"]["endpointOutput"]
    assert output["observedContentType"] == "application/json"
    assert json.loads(output["data"]) == json.loads(res.body)
    assert [s["status"] for s in record["tandem"]["stages"]] == [200, 500]


def test_capture_to_s3(tandem_factory, tmp_path, s3, s3_endpoint):  # noqa: F811
    client, bucket = s3
    tandem = tandem_factory(capture_spec(f"s3://{bucket}/datacapture"), env=s3_env(s3_endpoint))
    for i in range(3):
        assert tandem.invoke(f"{i}".encode()).status == 200
    assert tandem.terminate() == 0
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1, keys
    assert keys[0].startswith("datacapture/")
    assert CAPTURE_FILE_RE.fullmatch(keys[0][len("datacapture/"):]), keys[0]
    body = client.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
    lines = [json.loads(line) for line in body.splitlines()]
    assert [r["captureData"]["endpointInput"]["data"] for r in lines] == ["0", "1", "2"]


class StuckS3:
    """An S3 endpoint that accepts connections and never answers until released, then answers
    every request 500: the capture writer, committing its first file, hangs on it the way it
    would on a stalled bucket, and afterwards gives up on the records concerned."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.held = []
        self.released = threading.Event()
        self.requests = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.listener.accept()
            self.requests.set()
            if self.released.is_set():
                threading.Thread(target=self._refuse, args=(conn,), daemon=True).start()
            else:
                self.held.append(conn)

    @staticmethod
    def _refuse(conn):
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
            except OSError:
                pass

    def release(self):
        self.released.set()
        for conn in self.held:
            self._refuse(conn)


def test_a_full_queue_drops_and_counts_records_without_slowing_invocations(tandem_factory,
                                                                           tmp_path):
    s3 = StuckS3()
    env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{s3.port}"}
    tandem = tandem_factory(capture_spec("s3://stuck/capture", rotate_s=0.001, queue_records=2),
                            env=env)
    try:
        assert tandem.invoke(b"first").status == 200
        # The writer commits the first record's file at once (rotate_s) and hangs on the PUT.
        assert s3.requests.wait(30), "the capture writer never reached S3"
        for i in range(19):
            res = tandem.invoke(f"{i}".encode())
            assert res.status == 200, res
    finally:
        s3.release()
    assert tandem.terminate() == 0
    log = tandem.log()
    # Two records fit in the queue while the writer is stuck; the other 17 are dropped.
    assert re.search(r"capture: dropped 17 record\(s\) \(17 in all\): the queue was full "
                     r"\(queue_records 2", log), log
    assert re.search(r"capture: 0 record\(s\) written in 0 file\(s\) to s3://stuck/capture; "
                     r"17 dropped, 3 lost to errors", log), log
