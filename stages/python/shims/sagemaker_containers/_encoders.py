"""Default decoders and encoders of the Flask-family containers (sagemaker_containers/_encoders.py).

decode(obj, content_type) -> numpy array; encode(array_like, accept) -> str (JSON, CSV) or
bytes (NPY). The content type must match exactly: no parameters, no lists; anything else is
UnsupportedFormatError. No JSON Lines: sagemaker-containers 2.8.6 has no such codec.
"""

import csv
import io
import json

import numpy as np

from sagemaker_containers import _content_types, _errors


def _tolist_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def array_to_json(array_like):
    """JSON text of an array-like (numpy arrays and scalars through tolist())."""
    return json.dumps(array_like, default=_tolist_default)


def json_to_numpy(string_like, dtype=None):
    """np.array(json.loads(text), dtype)."""
    return np.array(json.loads(string_like), dtype=dtype)


def npy_to_numpy(npy_array):
    """The array of NPY bytes (pickled object arrays allowed, as the containers do)."""
    return np.load(io.BytesIO(npy_array), allow_pickle=True)


def array_to_npy(array_like):
    """NPY bytes of an array-like."""
    buffer = io.BytesIO()
    np.save(buffer, array_like)
    return buffer.getvalue()


def csv_to_numpy(string_like, dtype=None):
    """Rows of comma-separated text as one array, squeezed, then cast with astype(dtype).

    With dtype None a cell that is not a number leaves the array of strings as it is (the
    caller's astype fails on it), as in the containers.
    """
    try:
        reader = csv.reader(
            io.StringIO(string_like), delimiter=",", quotechar='"', doublequote=True, strict=True
        )
        rows = list(reader)
    except Exception as e:
        raise _errors.ClientError("Error while decoding csv: {}".format(e))
    try:
        array = np.array(rows).squeeze()
    except ValueError as e:
        raise _errors.ClientError(
            "Error while decoding csv: rows have different numbers of columns ({})".format(e)
        )
    try:
        return array.astype(dtype)
    except ValueError as e:
        if dtype is not None:
            raise _errors.ClientError(
                "Error while writing numpy array: {}. dtype is: {}".format(e, dtype)
            )
        return array


def array_to_csv(array_like):
    """CSV text, "\\n" line ends; a 1-D array gives one value per line."""
    array = np.array(array_like)
    if len(array.shape) == 1:
        array = np.reshape(array, (array.shape[0], 1))
    stream = io.StringIO()
    writer = csv.writer(
        stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True, strict=True
    )
    try:
        writer.writerows(array)
    except csv.Error as e:
        raise _errors.ClientError("Error while encoding csv: {}".format(e))
    return stream.getvalue()


def array_to_recordio_protobuf(array_like, labels=None):
    """Not available: tandem-python has no RecordIO-protobuf writer."""
    raise _errors.UnsupportedFormatError("application/x-recordio-protobuf")


_encoders_map = {
    _content_types.NPY: array_to_npy,
    _content_types.CSV: array_to_csv,
    _content_types.JSON: array_to_json,
}
_decoders_map = {
    _content_types.NPY: npy_to_numpy,
    _content_types.CSV: csv_to_numpy,
    _content_types.JSON: json_to_numpy,
}


def decode(obj, content_type):
    """The numpy array of `obj` in `content_type` (exact match of JSON, CSV or NPY)."""
    decoder = _decoders_map.get(content_type)
    if decoder is None:
        raise _errors.UnsupportedFormatError(content_type)
    return decoder(obj)


def encode(array_like, content_type):
    """`array_like` serialised as `content_type` (exact match of JSON, CSV or NPY)."""
    encoder = _encoders_map.get(content_type)
    if encoder is None:
        raise _errors.UnsupportedFormatError(content_type)
    return encoder(array_like)
