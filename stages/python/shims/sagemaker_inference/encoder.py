"""Default encoders of the inference toolkit: JSON (str), CSV (np.savetxt fmt "%s", str) and
NPY (bytes). Exact content-type match."""

import io
import json

import numpy as np

from sagemaker_inference import content_types, errors


def _tolist_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def _array_to_json(array_like):
    return json.dumps(array_like, default=_tolist_default)


def _array_to_npy(array_like):
    buffer = io.BytesIO()
    np.save(buffer, array_like)
    return buffer.getvalue()


def _array_to_csv(array_like):
    stream = io.StringIO()
    np.savetxt(stream, array_like, delimiter=",", fmt="%s")
    return stream.getvalue()


_encoder_map = {
    content_types.NPY: _array_to_npy,
    content_types.CSV: _array_to_csv,
    content_types.JSON: _array_to_json,
}

SUPPORTED_CONTENT_TYPES = set(_encoder_map)


def encode(array_like, content_type):
    """`array_like` serialised as `content_type` (exact match of NPY, CSV or JSON)."""
    encoder = _encoder_map.get(content_type)
    if encoder is None:
        raise errors.UnsupportedFormatError(content_type)
    return encoder(array_like)
