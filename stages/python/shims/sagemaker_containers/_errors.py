"""Errors of sagemaker_containers that scripts catch or raise."""

import textwrap


class ClientError(Exception):
    """An error in the user's code or request, as opposed to the container's."""


class ImportModuleError(ClientError):
    """The user module could not be imported."""


class UnsupportedFormatError(Exception):
    """A content type that the default encoders do not support."""

    def __init__(self, content_type, **kwargs):
        self.message = textwrap.dedent(
            """Content type %s is not supported by this framework.

            Please implement input_fn to to deserialize the request data or an output_fn to
            serialize the response. For more information, see the SageMaker Python SDK README."""
            % content_type
        )
        super().__init__(self.message, **kwargs)
