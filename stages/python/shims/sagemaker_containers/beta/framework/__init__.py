"""`from sagemaker_containers.beta.framework import encoders, worker, content_types, ...`."""

from sagemaker_containers import _content_types as content_types  # noqa: F401
from sagemaker_containers import _encoders as encoders  # noqa: F401
from sagemaker_containers import _env as env  # noqa: F401
from sagemaker_containers import _errors as errors  # noqa: F401
from sagemaker_containers import _worker as worker  # noqa: F401
from sagemaker_containers import entry_point  # noqa: F401
from _tandem_serving_only import unavailable

__all__ = ["content_types", "encoders", "env", "errors", "worker", "entry_point",
           "training_env"]

training_env = unavailable("sagemaker_containers.beta.framework", "training_env")
