"""The few serving settings of sagemaker_containers' env that scripts read."""

import os

base_dir = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
model_dir = os.path.join(base_dir, "model")
code_dir = os.path.join(base_dir, "code")


class ServingEnv:
    """The serving environment as the Flask-family containers read it."""

    def __init__(self):
        program = os.environ.get("SAGEMAKER_PROGRAM")
        self.module_name = program[:-3] if program and program.endswith(".py") else program
        self.module_dir = os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", code_dir)
        self.default_accept = os.environ.get(
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json"
        )
        self.model_server_workers = os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS")
        self.model_server_timeout = int(os.environ.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60"))
        self.log_level = os.environ.get("SAGEMAKER_CONTAINER_LOG_LEVEL", "20")
        self.model_dir = model_dir


def __getattr__(name):
    # Training-side names (TrainingEnv, read_hyperparameters, ...) exist but do not work here.
    from _tandem_serving_only import unavailable

    if name.startswith("__"):
        raise AttributeError(name)
    return unavailable("sagemaker_containers.env", name)
