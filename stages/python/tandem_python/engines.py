"""How one invocation runs through the handlers, per framework family.

Each engine is built once at load with its handlers resolved; invoke() does only the work of
the request. Every engine answers; an exception becomes an error answer (and its traceback
one block on stderr).
"""

import json
import sys
import traceback

from sagemaker_containers import _worker

from .errors import describe

JSON = "application/json"
ANY = "*/*"
UTF8_TYPES = ("application/json", "text/csv")
FLASK_TEXT = "text/html; charset=utf-8"  # flask.Response for a str/bytes view result
ERROR_CONTENT_TYPE = "text/plain; charset=utf-8"
CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"

_NONE_RESULT = (
    "The view function did not return a valid response. The function either returned None "
    "or ended without a return statement."
)


class Stage:
    """A handler as the engine calls it, with the label its errors carry."""

    __slots__ = ("fn", "label")

    def __init__(self, fn, label):
        self.fn = fn
        self.label = label


class Engine:
    """What every family shares: the model, the Accept default, error answers."""

    def __init__(self, answer_class, model, default_accept, user_code, stages, transform):
        self.Answer = answer_class
        self.model = model
        self.default_accept = default_accept
        self.user_code = user_code
        # input_fn, predict_fn, output_fn (Stage each), or transform_fn alone.
        self.input, self.predict, self.output = stages if stages else (None, None, None)
        self.transform = transform

    def accept_of(self, accept):
        return self.default_accept if not accept or accept == ANY else accept

    def run_handlers(self, body, content_type, accept, at):
        """The entry point's functions in the containers' order; at[0] names the one running,
        for the error answer when it raises."""
        if self.transform is not None:
            at[0] = self.transform.label
            return self.transform.fn(self.model, body, content_type, accept)
        at[0] = self.input.label
        data = self.input.fn(body, content_type)
        at[0] = self.predict.label
        prediction = self.predict.fn(data, self.model)
        at[0] = self.output.label
        return self.output.fn(prediction, accept)

    def failure(self, label, exc, invocation, status=500):
        """The error answer for an exception in `label`, its traceback logged to stderr."""
        where = self.user_code.where(exc.__traceback__)
        try:
            line = "%s%s: %s" % (where, label, describe(exc))
        except Exception:  # an exception whose str() fails
            line = "%s%s: %s" % (where, label, type(exc).__name__)
        ident = " (inference id %s)" % invocation.inference_id if invocation.inference_id else ""
        block = "tandem-python: invocation%s answered %d: %s\n%s" % (
            ident,
            status,
            line,
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )
        try:
            sys.stderr.write(block)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return self.Answer(status, (line + "\n").encode("utf-8"), ERROR_CONTENT_TYPE)


def response_answer(answer_class, response):
    """The answer of a worker.Response, or of a Flask/Werkzeug response a script built."""
    if isinstance(response, _worker.Response):
        return answer_class(
            response.status_code, response.data, response.content_type, response.custom_attributes
        )
    headers = response.headers
    return answer_class(
        int(response.status_code),
        bytes(response.get_data()),
        headers.get("Content-Type"),
        headers.get(CUSTOM_ATTRIBUTES_HEADER),
    )


def is_response(obj):
    return isinstance(obj, _worker.Response) or (
        hasattr(obj, "get_data") and hasattr(obj, "status_code") and hasattr(obj, "headers")
    )


def flask_jsonify(obj):
    """Flask 1.1.1 jsonify's body: sorted keys, compact, ASCII, a trailing newline."""
    return (json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


class FlaskEngine(Engine):
    """The scikit-learn and XGBoost containers (sagemaker-containers' Transformer + Flask)."""

    def invoke(self, invocation):
        at = ["request"]
        try:
            content_type = invocation.content_type or JSON
            accept = self.accept_of(invocation.accept)
            body = invocation.body
            if content_type in UTF8_TYPES:
                body = body.decode("utf-8", "replace")  # Werkzeug get_data(as_text=True)
            result = self.run_handlers(body, content_type, accept, at)
            at[0] = "response of " + at[0]
            return self.shape(result)
        except (Exception, SystemExit) as e:
            return self.failure(at[0], e, invocation)

    def shape(self, result):
        """Transformer.transform then Flask 1.1.1 make_response."""
        Answer = self.Answer
        if isinstance(result, tuple):
            result = _worker.Response(response=result[0], mimetype=result[1])
        if isinstance(result, _worker.Response):
            return Answer(
                result.status_code, result.data, result.content_type, result.custom_attributes
            )
        if isinstance(result, (str, bytes, bytearray)):
            return Answer(200, _worker.body_bytes(result), FLASK_TEXT)
        if isinstance(result, dict):
            return Answer(200, flask_jsonify(result), JSON)
        if result is None:
            raise TypeError(_NONE_RESULT)
        if is_response(result):
            return response_answer(Answer, result)
        raise TypeError(
            "The view function did not return a valid response. The return type must be a "
            "string, dict, tuple, Response instance, or WSGI callable, but it was a %s."
            % type(result).__name__
        )


class TorchEngine(Engine):
    """The PyTorch containers (sagemaker-inference-toolkit's Transformer under TorchServe)."""

    def __init__(self, answer_class, model, default_accept, user_code, stages, transform,
                 context, toolkit_error):
        super().__init__(answer_class, model, default_accept, user_code, stages, transform)
        self.context = context  # None when no handler takes one
        self.toolkit_error = toolkit_error

    def invoke(self, invocation):
        at = ["request"]
        processor = None
        try:
            content_type = invocation.content_type or None
            accept = self.accept_of(invocation.accept)
            if self.context is not None:
                processor = self.context.begin(
                    request_headers(invocation), invocation.inference_id
                )
            body = invocation.body
            if content_type in UTF8_TYPES:
                body = body.decode("utf-8")
            result = self.run_handlers(body, content_type, accept, at)
            at[0] = "response of " + at[0]
            response_content_type = accept
            if isinstance(result, tuple):
                result, response_content_type = result[0], result[1]
            return self.shape(result, response_content_type, processor)
        except (Exception, SystemExit) as e:
            return self.failure(at[0], e, invocation, self.status_of(e))

    def status_of(self, exc):
        """A BaseInferenceToolkitError's own status (when it is a valid one), else 500."""
        if isinstance(exc, self.toolkit_error):
            try:
                status = int(exc.status_code)
            except (TypeError, ValueError):
                return 500
            if 100 <= status <= 599:
                return status
        return 500

    def shape(self, result, content_type, processor):
        """TorchServe's answer: str as UTF-8, bytes as is, a tensor torch.save'd, anything
        else json.dumps(indent=2) (503 when it cannot be); the Content-Type only if set."""
        status = 200
        custom_attributes = None
        if processor is not None:
            status = _valid_status(processor.get_response_status_code())
            custom_attributes = _header(processor.get_response_headers(), CUSTOM_ATTRIBUTES_HEADER)
        if isinstance(result, (bytes, bytearray)):
            body = bytes(result)
        elif isinstance(result, str):
            body = result.encode("utf-8")
        elif _is_tensor(result):
            body = _torch_save(result)
        else:
            try:
                body = json.dumps(result, indent=2).encode("utf-8")
            except TypeError:
                return self.Answer(
                    503,
                    ("Unsupported model output data type: %s\n" % type(result).__name__).encode(),
                    ERROR_CONTENT_TYPE,
                )
        return self.Answer(status, body, str(content_type) if content_type else None,
                           custom_attributes)


def _valid_status(code):
    """A status a handler set through the context: 200 when unset, 500 when not a status."""
    if code is None:
        return 200
    try:
        code = int(code)
    except (TypeError, ValueError):
        return 500
    return code if 100 <= code <= 599 else 500


def _header(headers, name):
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _is_tensor(obj):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _torch_save(tensor):
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(tensor, buffer)
    return buffer.getvalue()


def request_headers(invocation):
    """The request's headers as a TorchServe handler sees them (usual names, any case)."""
    from .context import INFERENCE_ID_HEADER, RequestHeaders

    headers = RequestHeaders()
    if invocation.content_type:
        headers["Content-Type"] = invocation.content_type
    if invocation.accept:
        headers["Accept"] = invocation.accept
    if invocation.custom_attributes:
        headers[CUSTOM_ATTRIBUTES_HEADER] = invocation.custom_attributes
    if invocation.inference_id:
        headers[INFERENCE_ID_HEADER] = invocation.inference_id
    return headers


class PlainEngine(Engine):
    """framework "none": no defaults, raw bytes in, str/bytes/(body, content type) out."""

    def invoke(self, invocation):
        label = "request"
        try:
            content_type = invocation.content_type or None
            accept = self.accept_of(invocation.accept)
            body = invocation.body
            if self.transform is not None:
                label = self.transform.label
                result = self.transform.fn(self.model, body, content_type, accept)
            else:
                data = body
                if self.input is not None:
                    label = self.input.label
                    data = self.input.fn(body, content_type)
                label = self.predict.label
                result = self.predict.fn(data, self.model)
                if self.output is not None:
                    label = self.output.label
                    result = self.output.fn(result, accept)
            label = "response of " + label
            return self.shape(result, accept, label)
        except (Exception, SystemExit) as e:
            return self.failure(label, e, invocation)

    def shape(self, result, accept, label):
        Answer = self.Answer
        if isinstance(result, tuple):
            body, content_type = result[0], result[1]
            content_type = str(content_type) if content_type else None
            return Answer(200, _worker.body_bytes(body), content_type)
        if isinstance(result, (bytes, bytearray)):
            return Answer(200, bytes(result), accept)
        if isinstance(result, str):
            return Answer(200, result.encode("utf-8"), accept)
        if is_response(result):
            return response_answer(Answer, result)
        raise TypeError(
            "with framework none the answer must be str, bytes, (body, content_type) or a "
            "worker.Response, not %s: define output_fn to serialise it" % type(result).__name__
        )
