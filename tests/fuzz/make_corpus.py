#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz (corpus/<target>/): small valid inputs, and a few
near-misses, for each fuzz target. The committed files are this script's output; run it again
after changing an input format, from any folder: python3 tests/fuzz/make_corpus.py
"""
import gzip
import shutil
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"

sys.path.insert(0, str(ROOT / "tests" / "integration"))
from framing import recordio, recordio_part, tfrecord  # noqa: E402

# Split types and modes of fuzz_splitter's control byte (splitter_fuzzer.cpp).
NONE, LINE, RECORDIO, TFRECORD = 0, 1, 2, 3
PLAIN, GZIP_BYTES, GZIP_ROUND_TRIP = 0, 1, 2


def control(split_type: int, mode: int, limit: int = 0, chunk: int = 1) -> int:
    return split_type | mode << 2 | limit << 4 | chunk << 6


def write(target: str, name: str, data: bytes | str) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)


def spec_seeds() -> None:
    for path in sorted(ROOT.glob("examples/*/pipeline*.yaml")):
        write("spec", f"{path.parent.name}-{path.name}", path.read_bytes())
    write("spec", "minimal.yaml", "name: churn\nstages:\n  - command: [python3, serve.py, serve]\n")
    write("spec", "every-key.yaml", """\
version: 1
name: every-key
mode: direct
server:
  host: 127.0.0.1
  port: 0
  max_payload_mb: 6
  stage_payload_mb: 8
  invocation_timeout_s: 1.5
  request_read_timeout_s: 2.5
  max_concurrent_invocations: 4
  stage_port_range: "9100-9199"
  stage_safe_ports: 4
  drain_timeout_s: 0
  stage_stop_timeout_s: 2
execution_parameters:
  max_concurrent_transforms: 2
  batch_strategy: SINGLE_RECORD
  max_payload_mb: 1
stages:
  - name: first
    command: [tandem-identity, serve, "${HOME:-/root}"]
    working_dir: .
    model_dir: ./model
    env: {A: "1", B: "${UNSET:-x}"}
    transport: shm
    content_type: text/csv
    accept: application/json
    timeout_s: 3
    startup_timeout_s: 10
    max_inflight: 2
    mount_model_dir: true
  - name: second
    command: [tandem-identity, serve]
""")
    write("spec", "errors.yaml", """\
name: Bad_Name
server: {port: 99999, stage_port_range: "2-1", max_payload_mb: fast}
stages:
  - name: a
    comand: [x]
  - name: a
    command: []
    timeout_s: -1
""")
    write("spec", "anchors.yaml", "name: a\nbase: &b {command: [x]}\nstages: [*b, {<<: *b, name: c}]\n")


def splitter_seeds() -> None:
    lines = b"5.1,3.5,1.4,0.2\r\n\n4.9,3.0,1.4,0.2\n6.2,3.4,5.4,2.3"
    multipart = recordio_part(b"abcdefg", 1) + recordio_part(b"hij", 2) + recordio_part(b"k", 3)
    objects = {
        "none": (NONE, b'{"instances": [[1, 2], [3, 4]]}'),
        "line": (LINE, lines),
        "recordio": (RECORDIO, recordio([b"first", b"", b"third record"]) + multipart),
        "tfrecord": (TFRECORD, tfrecord([b"first", b"", b"\x00\x01binary\xff"])),
    }
    for name, (split_type, data) in objects.items():
        write("splitter", f"{name}", bytes([control(split_type, PLAIN), 7]) + data)
        write("splitter", f"{name}-limit", bytes([control(split_type, PLAIN, limit=1, chunk=2), 3]) + data)
        write("splitter", f"{name}-gzip", bytes([control(split_type, GZIP_BYTES), 1]) + gzip.compress(data))
        write("splitter", f"{name}-gzip-two-members",
              bytes([control(split_type, GZIP_BYTES, chunk=3), 9]) +
              gzip.compress(data[:5]) + gzip.compress(data[5:]))
        write("splitter", f"{name}-round-trip", bytes([control(split_type, GZIP_ROUND_TRIP, chunk=2), 11]) + data)
    write("splitter", "recordio-truncated", bytes([control(RECORDIO, PLAIN), 2]) + recordio([b"abc"])[:-3])
    write("splitter", "tfrecord-bad-crc", bytes([control(TFRECORD, PLAIN), 2]) + tfrecord([b"abc"])[:-1] + b"\0")
    write("splitter", "gzip-trailing-garbage", bytes([control(LINE, GZIP_BYTES), 1]) + gzip.compress(b"a\nb\n") + b"\0\0")

    write("recordio", "three", recordio([b"first", b"", b"third record"]))
    write("recordio", "multipart", multipart + recordio([b"after"]))
    write("recordio", "truncated", recordio([b"abcdef"])[:-2])
    write("recordio", "bad-magic", b"\x0b" + recordio([b"x"])[1:])
    write("recordio", "end-without-start", recordio_part(b"x", 3))
    write("tfrecord", "three", tfrecord([b"first", b"", b"third record"]))
    write("tfrecord", "binary", tfrecord([bytes(range(256))]))
    write("tfrecord", "bad-length-crc", tfrecord([b"abc"])[:8] + b"\0\0\0\0" + b"abc\0\0\0\0")
    write("tfrecord", "truncated", tfrecord([b"abcdef"])[:-2])


def json_path_seeds() -> None:
    csv_record = '["1", "2", "3", "4", "5"]'
    document = '{"id": 7, "features": [1, 2, 3], "meta": {"a": 1, "b": [true, null]}, "SageMakerOutput": {"x": 1}}'
    paths = {
        "root": ("$", document),
        "child": ("$.features", document),
        "index": ("$[0]", csv_record),
        "negative": ("$[0,-1]", csv_record),
        "slice": ("$[1:]", csv_record),
        "slice-both": ("$[2:5]", csv_record),
        "slice-end": ("$[:5]", csv_record),
        "mixed": ("$[0,5:]", csv_record),
        "wildcard": ("$.meta.*", document),
        "wildcard-bracket": ("$[*]", csv_record),
        "names": ("$['id','SageMakerOutput']", document),
        "dot-names": ('$.["id","features"]', document),
        "escaped": ("$['a\\'b']", '{"a\'b": 1}'),
        "nested": ("$.meta.b[1]", document),
        "unclosed": ("$[1:", csv_record),
        "descent": ("$..id", document),
        "filter": ("$[?(@.id)]", document),
    }
    for name, (path, doc) in paths.items():
        write("json_path", name, f"{path}\n{doc}")


def data_processing_seeds() -> None:
    csv_in, json_in, join, out_csv, out_json, out_other, line, single = 0, 1, 2, 0 << 2, 1 << 2, 2 << 2, 16, 32
    csv = "1,2,3,4\n5,6,7,8\r\n\n9,\"10,11\",12,13\n"
    jsonl = '{"id":1,"features":[1,2]}\n{"id":2,"features":[3,4]}\n[5,6]\n'
    seeds = {
        "csv-filter": (csv_in | out_csv | line, "$[1:]", "$", csv, None),
        "csv-join": (csv_in | join | out_csv | line, "$[1:]", "$[0,-1]", csv, None),
        "csv-join-json-out": (csv_in | join | out_json | line | single, "$[0]", "$", "1,2\n3,4\n", '{"p":0.5}'),
        "json-filter": (json_in | out_json | line, "$.features", "$", jsonl, None),
        "json-join": (json_in | join | out_json | line, "$.features", "$['id','SageMakerOutput']", jsonl, None),
        "json-join-csv-out": (json_in | join | out_csv | line | single, "$", "$", jsonl, "0.7"),
        "output-filter": (csv_in | out_json | 1 << 6, "$", "$.predictions[0]", csv, '{"predictions":[1,2]}\n{"predictions":[3]}'),
        "other-out": (json_in | join | out_other, "$", "$", jsonl, None),
        "no-processing": (csv_in | out_other | 2 << 6, "$", "$", csv, None),
    }
    for name, (flags, input_filter, output_filter, records, answer) in seeds.items():
        text = f"{input_filter}\n{output_filter}\n{records}"
        if answer is not None:
            text += "\x1e" + answer
        write("data_processing", name, bytes([flags]) + text.encode())


def job_seeds() -> None:
    write("job", "full.json", """{
  "TransformJobName": "churn-nightly",
  "ModelName": "churn",
  "MaxConcurrentTransforms": 2,
  "MaxPayloadInMB": 6,
  "BatchStrategy": "MultiRecord",
  "ModelClientConfig": {"InvocationsTimeoutInSeconds": 60, "InvocationsMaxRetries": 1},
  "Environment": {"LOG_LEVEL": "debug"},
  "TransformInput": {
    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
    "ContentType": "text/csv",
    "CompressionType": "Gzip",
    "SplitType": "Line"
  },
  "TransformOutput": {"S3OutputPath": "s3://bucket/out/", "Accept": "text/csv", "AssembleWith": "Line"},
  "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
  "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
}""")
    write("job", "minimal.json", '{"TransformInput": {"DataSource": {"S3DataSource": '
          '{"S3DataType": "ManifestFile", "S3Uri": "in/manifest.json"}}}, '
          '"TransformOutput": {"S3OutputPath": "out"}}')
    write("job", "errors.json", '{"TransformInput": {"SplitType": "Lines"}, "MaxPayloadInMB": 101, '
          '"Environment": {"1BAD": 2}, "Unknown": true}')
    write("job", "manifest.json", '[{"prefix": "s3://bucket/p/"}, "rel/a.csv", "rel/b.csv"]')
    write("job", "manifest-errors.json", '[{"prefix": 5}, 5, ""]')


def http_seeds() -> None:
    raw, structured = 0, 1
    requests = {
        "invocations": b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                       b"Accept: application/json\r\nContent-Length: 7\r\n\r\n1,2,3\r\n",
        "endpoint": b"POST /endpoints/fuzz-endpoint/invocations HTTP/1.1\r\nHost: x\r\n"
                    b"X-Amzn-SageMaker-Custom-Attributes: trace=1\r\n"
                    b"X-Amzn-SageMaker-Inference-Id: id-1\r\n"
                    b"X-Amzn-SageMaker-Target-Variant: AllTraffic\r\n"
                    b"X-Amzn-SageMaker-Target-Container-Hostname: model\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "other-endpoint": b"POST /endpoints/other/invocations HTTP/1.1\r\nHost: x\r\n\r\n",
        "ping": b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
        "wrong-method": b"GET /invocations HTTP/1.0\r\n\r\n",
        "execution-parameters": b"GET /execution-parameters HTTP/1.1\r\nContent-Length: 25\r\n\r\n"
                                b'{"MaxPayloadInMB": 1}    ',
        "bad-variant": b"POST /invocations?x=1 HTTP/1.1\r\nX-Amzn-SageMaker-Target-Variant: Blue\r\n"
                       b"Content-Length: 0\r\n\r\n",
        "bad-id": b"POST /invocations HTTP/1.1\r\nX-Amzn-SageMaker-Inference-Id: \xff\x01\r\n\r\n",
    }
    for name, request in requests.items():
        write("http", f"raw-{name}", bytes([raw, 17]) + request)
    write("http", "structured-invocations",
          bytes([structured, 2]) + b"/invocations\nContent-Type: application/json\n"
          b"X-Amzn-SageMaker-Custom-Attributes: a=b\n\n{\"instances\": [1]}")
    write("http", "structured-stage-error",
          bytes([structured, 3]) + b"/invocations\nContent-Type: text/csv\n\nbad row\n")
    # The wire through the capped read buffer: a request (2) or a stage's answer (6); 0xff N C
    # expands to N KiB of C (http_fuzzer.cpp).
    wire_request, wire_response = 2, 6
    wire = {
        "request-trailer": (wire_request, b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: "
                            b"chunked\r\n\r\n1\r\na\r\n0\r\nX-T: \xff\x41a\r\n\r\n"),
        "request-extension": (wire_request, b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: "
                              b"chunked\r\n\r\n3;\xff\x50x\r\nabc\r\n0\r\n\r\n"),
        "request-pipelined": (wire_request, b"POST /invocations HTTP/1.1\r\nContent-Length: 1\r\n"
                              b"\r\naGET /ping HTTP/1.1\r\n\r\n"),
        "request-gzip-chunked": (wire_request, b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: "
                                 b"gzip, chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"),
        "response-trailer": (wire_response, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             b"\r\n2\r\nok\r\n0\r\nX-T: \xff\x41a\r\n\r\n"),
        "response-extension": (wire_response, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                               b"\r\n\r\n2;\xff\x50x\r\nok\r\n0\r\n\r\n"),
        "response-interim": (wire_response, b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK"
                             b"\r\nContent-Length: 2\r\n\r\nok"),
        "response-extra": (wire_response, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokstray"),
    }
    for name, (flags, data) in wire.items():
        write("http", f"wire-{name}", bytes([flags, 40]) + data)


def shm_seeds() -> None:
    """Slot headers and control blocks of proto/include/tandem/proto/shm_ring.h (version 2)."""
    def text(value: bytes, capacity: int = 1024) -> bytes:
        return struct.pack("<I", len(value)) + value.ljust(capacity, b"\0")

    def slot(status=200, flags=1, sequence=7, length=2, content_type=b"text/csv", body=b"ok"):
        request = (struct.pack("<IIQQ", 3, 1 | 16, 7, 3) + text(b"text/csv") + text(b"") + text(b"")
                   + text(b"id", 256))
        response = (struct.pack("<IIQQ", status, flags, sequence, length) + text(content_type)
                    + text(b""))
        traceparent = text(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 256)
        header = request + response + traceparent + bytes(4)  # the struct's tail padding
        assert len(header) == 5712
        return bytes([0]) + header + body

    write("shm", "slot-answer", slot())
    write("shm", "slot-too-large", slot(flags=1 | 8, length=1 << 40, body=b""))
    write("shm", "slot-other-sequence", slot(sequence=6))
    write("shm", "slot-long-body", slot(length=257))
    write("shm", "slot-bad-status", slot(status=42))

    def control(version=2, slots=2, request=256, response=256, segment=None):
        stride = 12288 + 4096
        size = 4096 + slots * stride if segment is None else segment
        block = struct.pack("<QIIQQQQQQQII", 0x314D48534D444E54, version, slots, request, response,
                            4096, stride, 8192, 12288, size, 0, 0)
        return bytes([1]) + block.ljust(256, b"\0")

    write("shm", "control-valid", control())
    write("shm", "control-version-1", control(version=1))
    write("shm", "control-too-many-slots", control(slots=3))
    write("shm", "control-inconsistent", control(segment=1 << 62))


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    spec_seeds()
    splitter_seeds()
    json_path_seeds()
    data_processing_seeds()
    job_seeds()
    http_seeds()
    shm_seeds()


if __name__ == "__main__":
    main()
