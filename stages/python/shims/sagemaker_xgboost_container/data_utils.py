"""Training-only: sagemaker_xgboost_container.data_utils (reading training channels)."""

from _tandem_serving_only import module_getattr, unavailable

get_dmatrix = unavailable("sagemaker_xgboost_container.data_utils", "get_dmatrix")
get_content_type = unavailable("sagemaker_xgboost_container.data_utils", "get_content_type")
__getattr__ = module_getattr("sagemaker_xgboost_container.data_utils")
