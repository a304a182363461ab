"""The default handlers of each framework family, built on the shims' codecs (one
implementation for the scripts' imports and for the defaults).

sklearn  (SK:serving.py)         input: encoders.decode, float32 for JSON/CSV; predict:
                                  model.predict(x); output: worker.Response(encode(p, accept))
xgboost  (XG:serving.py)         input: xgb encoder.decode -> DMatrix; predict:
                                  model.predict(x, validate_features=False); output as sklearn
pytorch  (default_pytorch_inference_handler.py)  model: TorchScript model.pt or the single
                                  .pt/.pth; input: decoder.decode -> tensor; predict: eval +
                                  no_grad; output: first supported type of the Accept list
"""

import os


def sklearn_handlers():
    """(input_fn, predict_fn, output_fn) of the scikit-learn container."""
    import numpy as np
    from sagemaker_containers import _content_types, _encoders, _worker

    utf8_types = tuple(_content_types.UTF8_TYPES)
    float32 = np.float32
    decode = _encoders.decode
    encode = _encoders.encode
    Response = _worker.Response

    def default_input_fn(input_data, content_type):
        np_array = decode(input_data, content_type)
        return np_array.astype(float32) if content_type in utf8_types else np_array

    def default_predict_fn(input_data, model):
        return model.predict(input_data)

    def default_output_fn(prediction, accept):
        return Response(encode(prediction, accept), mimetype=accept)

    return default_input_fn, default_predict_fn, default_output_fn


def xgboost_handlers():
    """(input_fn, predict_fn, output_fn) of the XGBoost container in script mode."""
    from sagemaker_containers import _encoders, _worker
    from sagemaker_xgboost_container import encoder as xgb_encoders

    decode = xgb_encoders.decode
    encode = _encoders.encode
    Response = _worker.Response

    def default_input_fn(input_data, content_type):
        return decode(input_data, content_type)

    def default_predict_fn(input_data, model):
        return model.predict(input_data, validate_features=False)

    def default_output_fn(prediction, accept):
        return Response(encode(prediction, accept), mimetype=accept)

    return default_input_fn, default_predict_fn, default_output_fn


class ModelLoadError(Exception):
    """The default PyTorch model_fn found a file that is not a TorchScript model."""


def _is_model_file(model_dir, filename):
    path = os.path.join(model_dir, filename)
    return os.path.isfile(path) and os.path.splitext(filename)[1] in (".pt", ".pth")


def pytorch_handlers():
    """(model_fn, input_fn, predict_fn, output_fn) of the PyTorch containers."""
    import torch
    from sagemaker_inference import content_types, decoder, encoder, errors

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    utf8_types = tuple(content_types.UTF8_TYPES)
    supported = encoder.SUPPORTED_CONTENT_TYPES
    csv_type = content_types.CSV
    Tensor = torch.Tensor

    def default_model_fn(model_dir):
        model_path = os.path.join(model_dir, "model.pt")
        if not os.path.exists(model_path):
            model_files = sorted(f for f in os.listdir(model_dir) if _is_model_file(model_dir, f))
            if len(model_files) != 1:
                raise ValueError(
                    "Exactly one .pth or .pt file is required for PyTorch models: {}".format(
                        model_files
                    )
                )
            model_path = os.path.join(model_dir, model_files[0])
        try:
            model = torch.jit.load(model_path, map_location=device)
        except RuntimeError as e:
            raise ModelLoadError(
                "Failed to load {}. Please ensure model is saved using torchscript.".format(
                    model_path
                )
            ) from e
        return model.to(device)

    def default_input_fn(input_data, content_type):
        np_array = decoder.decode(input_data, content_type)
        if content_type in utf8_types:
            tensor = torch.FloatTensor(np_array)
        else:
            tensor = torch.from_numpy(np_array)
        return tensor.to(device)

    def default_predict_fn(data, model):
        with torch.no_grad():
            model = model.to(device)
            model.eval()
            return model(data.to(device))

    def default_output_fn(prediction, accept):
        if type(prediction) is Tensor:
            prediction = prediction.detach().cpu().numpy().tolist()
        for content_type in accept.replace(" ", "").split(","):
            if content_type in supported:
                encoded = encoder.encode(prediction, content_type)
                if content_type == csv_type:
                    encoded = encoded.encode("utf-8")
                return encoded
        raise errors.UnsupportedFormatError(accept)

    return default_model_fn, default_input_fn, default_predict_fn, default_output_fn
