"""Decoders of the XGBoost container (sagemaker_xgboost_container/encoder.py) -> xgb.DMatrix.

decode(obj, content_type) strips the parameters of the content type, then: text/csv ->
csv_to_dmatrix; text/libsvm and text/x-libsvm -> libsvm_to_dmatrix. RecordIO-protobuf needs
AWS's mlio, which is not available here: it is an UnsupportedFormatError. application/json is
not a DMatrix format (UnsupportedFormatError), as in the container.
"""

import csv
import io
import json
import os
import tempfile

import numpy as np
import xgboost as xgb
from sagemaker_containers import _content_types, _errors

from sagemaker_xgboost_container.constants import xgb_content_types


def _clean_csv_string(csv_string, delimiter):
    return ["nan" if x == "" else x for x in csv_string.split(delimiter)]


def csv_to_dmatrix(input, dtype=None):
    """A DMatrix of CSV text (str or UTF-8 bytes) whose delimiter is sniffed from the first line.

    The text is split on "\\n" as is, so a trailing newline makes an empty last row and the
    rows ragged: the conversion fails, as in the container.
    """
    csv_string = input.decode() if isinstance(input, (bytes, bytearray)) else input
    sniffed = csv.Sniffer().sniff(csv_string.split("\n")[0][:512]).delimiter
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [_clean_csv_string(line, delimiter) for line in csv_string.split("\n")]
    return xgb.DMatrix(np.array(rows).astype(dtype))


def libsvm_to_dmatrix(string_like):
    """A DMatrix of LIBSVM text, parsed by XGBoost's own reader from a temporary file."""
    data = string_like.encode() if isinstance(string_like, str) else bytes(string_like)
    path = None
    try:
        with tempfile.NamedTemporaryFile(delete=False) as libsvm_file:
            path = libsvm_file.name
            libsvm_file.write(data)
        return xgb.DMatrix(path)
    finally:
        if path and os.path.exists(path):
            os.remove(path)


def recordio_protobuf_to_dmatrix(string_like):
    """Not available: the container reads RecordIO-protobuf with AWS's mlio."""
    raise _errors.UnsupportedFormatError(xgb_content_types.X_RECORDIO_PROTOBUF)


_dmatrix_decoders_map = {
    _content_types.CSV: csv_to_dmatrix,
    xgb_content_types.LIBSVM: libsvm_to_dmatrix,
    xgb_content_types.X_LIBSVM: libsvm_to_dmatrix,
    xgb_content_types.X_RECORDIO_PROTOBUF: recordio_protobuf_to_dmatrix,
}


def json_to_jsonlines(json_data):
    """JSON Lines bytes of a one-key JSON object: one line per entry of its only value."""
    resp_dict = json_data if isinstance(json_data, dict) else json.loads(json_data)
    if len(resp_dict.keys()) != 1:
        raise ValueError("JSON response is not compatible for conversion to jsonlines.")
    out = io.BytesIO()
    for value in resp_dict.values():
        for entry in value:
            out.write((json.dumps(entry) + "\n").encode("utf-8"))
    return out.getvalue()


def _media_type(content_type):
    # cgi.parse_header's key: the part before the first ";", stripped (case kept).
    return content_type.split(";", 1)[0].strip()


def decode(obj, content_type):
    """The DMatrix of `obj` in `content_type` (parameters such as charset ignored)."""
    media_type = _media_type(content_type)
    decoder = _dmatrix_decoders_map.get(media_type)
    if decoder is None:
        raise _errors.UnsupportedFormatError(media_type)
    return decoder(obj)
