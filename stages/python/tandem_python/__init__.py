"""tandem-python: serves SageMaker framework entry-point scripts (inference.py) as tandem stages.

The helper modules scripts import (sagemaker_containers, sagemaker_inference,
sagemaker_xgboost_container) live in ../shims, which is put on sys.path here so that the
runner's default handlers and the scripts share one implementation.
"""

import os as _os
import sys as _sys

_SHIMS = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "shims")
if _SHIMS not in _sys.path:
    _sys.path.insert(0, _SHIMS)
