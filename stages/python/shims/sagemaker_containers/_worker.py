"""The response object of the Flask-family containers (sagemaker_containers/_worker.py).

`Response` behaves like the containers' `flask.Response` subclass where a script or a client
can tell: default mimetype application/json, the `accept` argument ignored (with a
DeprecationWarning), str bodies sent as UTF-8, and Werkzeug's rule that appends
"; charset=utf-8" to text/*, *+xml and six XML/JS application types. It is a plain object, not
a Flask response: tandem-python turns it into an answer without Flask on the request path.
"""

import warnings

from sagemaker_containers import _content_types

# Werkzeug 2.0.3 utils.py (and 0.15.6): the application/* types that get a charset.
_CHARSET_MIMETYPES = frozenset(
    {
        "application/ecmascript",
        "application/javascript",
        "application/sql",
        "application/xml",
        "application/xml-dtd",
        "application/xml-external-parsed-entity",
    }
)

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"


def get_content_type(mimetype, charset="utf-8"):
    """Werkzeug's Content-Type for a mimetype: the charset is appended where text is expected."""
    if (
        mimetype.startswith("text/")
        or mimetype in _CHARSET_MIMETYPES
        or mimetype.endswith("+xml")
    ):
        return mimetype + "; charset=" + charset
    return mimetype


def body_bytes(response, charset="utf-8"):
    """The bytes a Werkzeug response sends for `response` (None, str, bytes or an iterable)."""
    if response is None:
        return b""
    if isinstance(response, bytes):
        return response
    if isinstance(response, str):
        return response.encode(charset)
    if isinstance(response, (bytearray, memoryview)):
        return bytes(response)
    if isinstance(response, (list, tuple)) or hasattr(response, "__next__"):
        parts = []
        for item in response:
            if isinstance(item, str):
                parts.append(item.encode(charset))
            elif isinstance(item, (bytes, bytearray)):
                parts.append(bytes(item))
            else:
                raise TypeError(
                    "a response body iterable must yield str or bytes, not %s"
                    % type(item).__name__
                )
        return b"".join(parts)
    raise TypeError(
        "a response body must be str, bytes or an iterable of them, not %s"
        % type(response).__name__
    )


def _parse_status(status):
    if isinstance(status, int):
        return status
    return int(str(status).strip().split(None, 1)[0])


class Response:
    """An HTTP answer built by a handler: body, status, headers and Content-Type."""

    default_mimetype = _content_types.JSON
    charset = "utf-8"

    def __init__(
        self,
        response=None,
        accept=None,
        status=200,
        headers=None,
        mimetype=None,
        direct_passthrough=False,
    ):
        if accept:
            warnings.warn(
                'ignoring deprecated "accept" argument to Response.__init__', DeprecationWarning
            )
        self.headers = {}
        if headers:
            items = headers.items() if hasattr(headers, "items") else headers
            for key, value in items:
                self.headers[key] = value
            if mimetype is None and self._header("Content-Type") is None:
                mimetype = self.default_mimetype
            if mimetype is not None:
                self._set_header("Content-Type", get_content_type(mimetype, self.charset))
        else:
            self.headers["Content-Type"] = get_content_type(
                self.default_mimetype if mimetype is None else mimetype, self.charset
            )
        self.status_code = status if type(status) is int else _parse_status(status)
        self._data = body_bytes(response, self.charset)

    def _header(self, name):
        value = self.headers.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def _set_header(self, name, value):
        lowered = name.lower()
        for key in list(self.headers):
            if key.lower() == lowered:
                del self.headers[key]
        self.headers[name] = value

    @property
    def content_type(self):
        return self._header("Content-Type")

    @property
    def mimetype(self):
        value = self.content_type
        return value.split(";", 1)[0].strip() if value else None

    @property
    def status(self):
        return str(self.status_code)

    @property
    def data(self):
        return self._data

    def get_data(self, as_text=False):
        return self._data.decode(self.charset, "replace") if as_text else self._data

    def set_data(self, value):
        self._data = body_bytes(value, self.charset)

    @property
    def custom_attributes(self):
        return self._header(CUSTOM_ATTRIBUTES_HEADER)


class Worker:
    """The containers' Flask app; tandem-python serves the script itself."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "sagemaker_containers worker.Worker (the Flask app) is not available under "
            "tandem-python: tandem-python serves the script's handlers itself"
        )
