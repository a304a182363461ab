"""tandem-python's own sagemaker_containers (the serving helpers of sagemaker-containers 2.8.6).

Only what entry-point scripts use at serving time is here: `beta.framework` with
`content_types`, `encoders`, `errors`, `env`, `worker` (Response), and the training-only
`entry_point`, whose functions say they are not available while serving.
"""
