"""Training-only: sagemaker_containers.entry_point (run a training script)."""

from _tandem_serving_only import module_getattr, unavailable

run = unavailable("sagemaker_containers.entry_point", "run")
install = unavailable("sagemaker_containers.entry_point", "install")
__getattr__ = module_getattr("sagemaker_containers.entry_point")
