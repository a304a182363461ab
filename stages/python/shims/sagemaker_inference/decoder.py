"""Default decoders of the inference toolkit: JSON, CSV (np.genfromtxt), NPY and NPZ (a scipy
sparse matrix). Exact content-type match; no JSON Lines (the toolkit has none)."""

import io
import json

import numpy as np

from sagemaker_inference import content_types, errors


def _json_to_numpy(string_like, dtype=None):
    return np.array(json.loads(string_like), dtype=dtype)


def _csv_to_numpy(string_like, dtype=None):
    return np.genfromtxt(io.StringIO(string_like), dtype=dtype, delimiter=",")


def _npy_to_numpy(npy_array):
    return np.load(io.BytesIO(npy_array), allow_pickle=True)


def _npz_to_sparse(npz_bytes):
    import scipy.sparse

    return scipy.sparse.load_npz(io.BytesIO(npz_bytes))


_decoder_map = {
    content_types.NPY: _npy_to_numpy,
    content_types.CSV: _csv_to_numpy,
    content_types.JSON: _json_to_numpy,
    content_types.NPZ: _npz_to_sparse,
}


def decode(obj, content_type):
    """The object decoded from `content_type` (exact match of NPY, CSV, JSON or NPZ)."""
    decoder = _decoder_map.get(content_type)
    if decoder is None:
        raise errors.UnsupportedFormatError(content_type)
    return decoder(obj)
