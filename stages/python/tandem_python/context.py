"""The `context` a PyTorch-family handler receives as its trailing argument.

Shaped like TorchServe's ts.context.Context (the object the containers pass): one long-lived
object per worker whose `request_processor` is replaced for each request, so that a handler
that kept the context from model_fn still sees the current request. Headers are offered with
their usual names (Content-Type, Accept, X-Amzn-SageMaker-Custom-Attributes,
X-Amzn-SageMaker-Inference-Id) and looked up without regard to case.
"""

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"


class RequestHeaders(dict):
    """The request's headers; get() and [] ignore case, iteration gives the usual names."""

    def _key(self, key):
        if dict.__contains__(self, key):
            return key
        lowered = key.lower() if isinstance(key, str) else key
        for name in dict.keys(self):
            if name.lower() == lowered:
                return name
        return key

    def __getitem__(self, key):
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key):
        return dict.__contains__(self, self._key(key))

    def get(self, key, default=None):
        return dict.get(self, self._key(key), default)


class RequestProcessor:
    """One request's headers in, and the status and headers of its answer out."""

    __slots__ = ("_request_header", "_status_code", "_reason_phrase", "_response_header")

    def __init__(self, request_header):
        self._request_header = request_header
        self._status_code = 200
        self._reason_phrase = None
        self._response_header = {}

    def get_request_property(self, key):
        return self._request_header.get(key)

    def get_request_properties(self):
        return self._request_header

    def report_status(self, code, reason_phrase=None):
        self._status_code = code
        self._reason_phrase = reason_phrase

    def get_response_status_code(self):
        return self._status_code

    def get_response_status_phrase(self):
        return self._reason_phrase

    def add_response_property(self, key, value):
        self._response_header[key] = value

    def get_response_headers(self):
        return self._response_header

    def get_response_header(self, key):
        return self._response_header.get(key)


class Context:
    """What TorchServe tells a handler about the model and the current request."""

    def __init__(self, model_dir, model_name="model"):
        self.model_name = model_name
        self.manifest = {"model": {"modelName": model_name}}
        self._system_properties = {
            "model_dir": model_dir,
            "gpu_id": None,
            "batch_size": 1,
            "server_name": "tandem-python",
            "server_version": None,
            "limit_max_image_pixels": True,
        }
        self.request_ids = None
        self._request_processor = None
        self.metrics = None

    @property
    def system_properties(self):
        return self._system_properties

    @property
    def request_processor(self):
        return self._request_processor

    @request_processor.setter
    def request_processor(self, value):
        self._request_processor = value

    def begin(self, headers, inference_id):
        """Start a request: a fresh RequestProcessor holding `headers`."""
        processor = RequestProcessor(headers)
        self._request_processor = [processor]
        self.request_ids = {0: inference_id}
        return processor

    def get_request_id(self, idx=0):
        return self.request_ids.get(idx) if self.request_ids else None

    def get_request_header(self, idx, key):
        return self._request_processor[idx].get_request_property(key)

    def get_all_request_header(self, idx):
        return self._request_processor[idx].get_request_properties()

    def set_response_content_type(self, idx, value):
        self.set_response_header(idx, "content-type", value)

    def get_response_content_type(self, idx):
        return self.get_response_headers(idx).get("content-type")

    def get_response_status(self, idx):
        processor = self._request_processor[idx]
        return processor.get_response_status_code(), processor.get_response_status_phrase()

    def set_response_status(self, code=200, phrase="", idx=0):
        if self._request_processor is not None and self._request_processor[idx] is not None:
            self._request_processor[idx].report_status(code, reason_phrase=phrase)

    def set_all_response_status(self, code=200, phrase=""):
        for idx in range(len(self._request_processor or [])):
            self.set_response_status(code, phrase, idx)

    def get_response_headers(self, idx):
        return self._request_processor[idx].get_response_headers()

    def set_response_header(self, idx, key, value):
        self._request_processor[idx].add_response_property(key, value)
