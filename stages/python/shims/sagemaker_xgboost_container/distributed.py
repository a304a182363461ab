"""Training-only: sagemaker_xgboost_container.distributed (Rabit set-up)."""

from _tandem_serving_only import module_getattr, unavailable

rabit_run = unavailable("sagemaker_xgboost_container.distributed", "rabit_run")
wait_hostname_resolution = unavailable(
    "sagemaker_xgboost_container.distributed", "wait_hostname_resolution"
)
__getattr__ = module_getattr("sagemaker_xgboost_container.distributed")
