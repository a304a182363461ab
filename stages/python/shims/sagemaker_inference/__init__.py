"""tandem-python's own sagemaker_inference (the serving helpers of the PyTorch containers'
vendored sagemaker-inference-toolkit): content_types, decoder, encoder, errors, utils and
default_inference_handler."""
