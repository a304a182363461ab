"""Errors of the inference toolkit. A BaseInferenceToolkitError carries the HTTP status that
tandem-python answers with; any other exception in a handler answers 500."""

import textwrap


class UnsupportedFormatError(Exception):
    """A content type that the default decoder or encoder does not support."""

    def __init__(self, content_type, **kwargs):
        self._message = textwrap.dedent(
            """Content type %s is not supported by this framework.

            Please implement input_fn to to deserialize the request data or an output_fn to
            serialize the response. For more information, see the SageMaker Python SDK README."""
            % content_type
        )
        super().__init__(self._message, **kwargs)


class BaseInferenceToolkitError(Exception):
    """An error with the status, message and reason phrase of the answer."""

    def __init__(self, status_code, message, phrase):
        self.status_code = status_code
        self.message = message
        self.phrase = phrase
        super().__init__(status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    """A BaseInferenceToolkitError whose message defaults to "Invalid Request"."""

    def __init__(self, status_code, message=None, phrase=None):
        message = message or "Invalid Request"
        phrase = phrase or message
        super().__init__(status_code, message, phrase)
