"""tandem-python's own sagemaker_xgboost_container: `encoder` (the serving codecs of the
XGBoost 1.7-1 container), `constants.xgb_content_types`, and the training-only `distributed`
and `data_utils`, whose functions say they are not available while serving."""
