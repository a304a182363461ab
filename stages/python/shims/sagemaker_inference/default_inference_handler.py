"""Base class of the toolkit's default handlers, for scripts that subclass it."""

import textwrap

from sagemaker_inference import decoder, encoder


class DefaultInferenceHandler:
    """Default model_fn/predict_fn that ask for an implementation, and codec-based
    input_fn/output_fn."""

    def default_model_fn(self, model_dir, context=None):
        raise NotImplementedError(
            textwrap.dedent(
                """
            Please provide a model_fn implementation.
            See documentation for model_fn at https://sagemaker.readthedocs.io/en/stable/
            """
            )
        )

    def default_input_fn(self, input_data, content_type, context=None):
        return decoder.decode(input_data, content_type)

    def default_predict_fn(self, data, model, context=None):
        raise NotImplementedError(
            textwrap.dedent(
                """
            Please provide a predict_fn implementation.
            See documentation for predict_fn at https://sagemaker.readthedocs.io/en/stable/
            """
            )
        )

    def default_output_fn(self, prediction, accept, context=None):
        return encoder.encode(prediction, accept)
