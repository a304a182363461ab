"""The default decoders and encoders of each framework family (the shims that scripts import
and the runner's defaults share), against the containers' defaults (docs/python.md, "Default
decoders and encoders")."""

import io

import numpy as np
import pytest

import handler_scripts  # noqa: F401 (puts stages/python and the shims on sys.path)
from sagemaker_containers import _encoders as sc_encoders
from sagemaker_containers import _errors as sc_errors
from sagemaker_containers.beta.framework import encoders
from sagemaker_inference import decoder, encoder
from sagemaker_inference import errors as it_errors


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# --- sagemaker_containers (scikit-learn and XGBoost output) -------------------------------------

@pytest.mark.parametrize("text,shape,dtype", [
    ("1,2\n3,4", (2, 2), np.float64),
    ("1,2,3", (3,), np.float64),
    ("1\n2\n3", (3,), np.float64),
    ("5", (), np.float64),
    ('"1","2"\n"3","4"', (2, 2), np.float64),
])
def test_sc_csv_decode_is_rows_squeezed_then_astype_none(text, shape, dtype):
    array = encoders.decode(text, "text/csv")
    assert array.shape == shape and array.dtype == dtype


def test_sc_csv_with_text_cells_keeps_the_strings():
    array = encoders.decode("a,1\nb,2", "text/csv")
    assert array.dtype.kind == "U" and array.tolist() == [["a", "1"], ["b", "2"]]


def test_sc_csv_with_ragged_rows_is_a_client_error():
    with pytest.raises(sc_errors.ClientError, match="different numbers of columns"):
        encoders.decode("1,2\n3", "text/csv")


def test_sc_json_and_npy_decode():
    assert encoders.decode("[[1, 2]]", "application/json").tolist() == [[1, 2]]
    objects = np.array([{"a": 1}, None], dtype=object)
    decoded = encoders.decode(npy(objects), "application/x-npy")  # allow_pickle
    assert decoded.tolist() == [{"a": 1}, None]


@pytest.mark.parametrize("content_type", ["text/csv; charset=utf-8", "application/jsonlines",
                                          "text/plain", "application/x-npz", ""])
def test_sc_decode_and_encode_match_exactly(content_type):
    with pytest.raises(sc_errors.UnsupportedFormatError):
        encoders.decode("1", content_type)
    with pytest.raises(sc_errors.UnsupportedFormatError):
        encoders.encode([1], content_type)


def test_sc_encode_json_csv_npy():
    float32 = np.array([1.5, 2.0], dtype=np.float32)
    assert encoders.encode(float32, "application/json") == "[1.5, 2.0]"
    assert encoders.encode({"k": np.int64(3)}, "application/json") == '{"k": 3}'
    assert encoders.encode(np.array([1.5, 2.0]), "text/csv") == "1.5\n2.0\n"
    assert encoders.encode([[1, 2], [3, 4]], "text/csv") == "1,2\n3,4\n"
    assert encoders.encode([["a,b", 'q"']], "text/csv") == '"a,b","q"""\n'
    data = encoders.encode(np.arange(3), "application/x-npy")
    assert isinstance(data, bytes) and np.load(io.BytesIO(data)).tolist() == [0, 1, 2]


def test_sc_encoders_module_is_the_beta_framework_one():
    assert encoders is sc_encoders


# --- sagemaker_inference (PyTorch) ---------------------------------------------------------------

def test_it_csv_decode_is_genfromtxt_with_dtype_none():
    ints = decoder.decode("1,2\n3,4", "text/csv")
    assert ints.dtype == np.int64 and ints.tolist() == [[1, 2], [3, 4]]
    assert decoder.decode("1.5,2.5,3.5", "text/csv").shape == (3,)
    # columns of different inferred types give a structured array (the PyTorch default
    # input_fn then fails on it, as in the container)
    mixed = decoder.decode("1.5,2\n3,4", "text/csv")
    assert mixed.dtype.names == ("f0", "f1") and mixed.shape == (2,)


def test_it_json_npy_npz_decode():
    import scipy.sparse

    assert decoder.decode("[1, 2]", "application/json").tolist() == [1, 2]
    int16 = npy(np.array([1, 2], dtype=np.int16))
    assert decoder.decode(int16, "application/x-npy").dtype == np.int16
    matrix = scipy.sparse.csr_matrix(np.array([[0, 1.5], [2.0, 0]]))
    buffer = io.BytesIO()
    scipy.sparse.save_npz(buffer, matrix)
    decoded = decoder.decode(buffer.getvalue(), "application/x-npz")
    assert scipy.sparse.issparse(decoded) and decoded.toarray().tolist() == [[0, 1.5], [2.0, 0]]


def test_it_encode():
    assert encoder.encode([[1.5, 2]], "text/csv") == "1.5,2.0\n"
    assert encoder.encode([[1, 2], [3, 4]], "text/csv") == "1,2\n3,4\n"
    assert encoder.encode(np.array([1.0, 2.0]), "application/json") == "[1.0, 2.0]"
    assert np.load(io.BytesIO(encoder.encode([1, 2], "application/x-npy"))).tolist() == [1, 2]
    assert encoder.SUPPORTED_CONTENT_TYPES == {"application/json", "text/csv", "application/x-npy"}


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "text/plain", None])
def test_it_exact_match(content_type):
    with pytest.raises(it_errors.UnsupportedFormatError):
        decoder.decode("1", content_type)
    with pytest.raises(it_errors.UnsupportedFormatError):
        encoder.encode([1], content_type)


# --- sagemaker_xgboost_container.encoder ---------------------------------------------------------

xgb = pytest.importorskip("xgboost")
from sagemaker_xgboost_container import encoder as xgb_encoders  # noqa: E402


@pytest.mark.parametrize("text,rows,cols", [
    ("1,2,3\n4,5,6", 2, 3),
    ("1;2;3\n4;5;6", 2, 3),
    ("1\t2\n3\t4", 2, 2),
    (b"1,2\n3,4", 2, 2),
])
def test_xgb_csv_to_dmatrix_sniffs_the_delimiter(text, rows, cols):
    matrix = xgb_encoders.csv_to_dmatrix(text)
    assert (matrix.num_row(), matrix.num_col()) == (rows, cols)


def test_xgb_csv_empty_cells_are_missing_values():
    matrix = xgb_encoders.csv_to_dmatrix("1,,3\n4,5,6")
    assert (matrix.num_row(), matrix.num_col()) == (2, 3)
    assert matrix.num_nonmissing() == 5


def test_xgb_csv_with_a_trailing_newline_fails():
    with pytest.raises(ValueError):
        xgb_encoders.csv_to_dmatrix("1,2\n3,4\n")


def test_xgb_libsvm_to_dmatrix_reads_indices_as_they_are():
    matrix = xgb_encoders.libsvm_to_dmatrix(b"1 0:1.5 3:2\n0 1:1\n")
    assert (matrix.num_row(), matrix.num_col()) == (2, 4)
    assert matrix.get_label().tolist() == [1.0, 0.0]


def test_xgb_decode_strips_parameters_and_refuses_json():
    assert xgb_encoders.decode("1,2", "text/csv; charset=utf-8").num_col() == 2
    assert xgb_encoders.decode(b"0 0:1\n", "text/x-libsvm").num_row() == 1
    with pytest.raises(sc_errors.UnsupportedFormatError, match="application/json is not"):
        xgb_encoders.decode("[1]", "application/json; charset=utf-8")
    with pytest.raises(sc_errors.UnsupportedFormatError):
        xgb_encoders.decode(b"", "application/x-recordio-protobuf")


def test_xgb_json_to_jsonlines():
    assert xgb_encoders.json_to_jsonlines({"predictions": [{"score": 1}, 2]}) == \
        b'{"score": 1}\n2\n'
    with pytest.raises(ValueError):
        xgb_encoders.json_to_jsonlines('{"a": [], "b": []}')


# --- the runner's PyTorch defaults ----------------------------------------------------------------

def test_pytorch_default_input_and_output():
    torch = pytest.importorskip("torch")
    from tandem_python import defaults

    _, input_fn, _, output_fn = defaults.pytorch_handlers()
    tensor = input_fn("[[1, 2]]", "application/json")
    assert tensor.dtype == torch.float32 and tensor.shape == (1, 2)
    kept = input_fn(npy(np.array([1, 2], dtype=np.int64)), "application/x-npy")
    assert kept.dtype == torch.int64
    assert output_fn(torch.tensor([[1.0, 2.0]]), "text/csv") == b"1.0,2.0\n"
    assert output_fn(torch.tensor([1.0]), "application/json") == "[1.0]"
    with pytest.raises(it_errors.UnsupportedFormatError):
        output_fn([1], "text/plain")
