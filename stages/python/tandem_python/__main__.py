"""tandem-python: serves a SageMaker framework entry point (inference.py) as a tandem stage.

    tandem-python serve

Configured by the environment a SageMaker Container definition carries (docs/python.md).
"""

import sys


def main(argv) -> int:
    if len(argv) != 1 or argv[0] != "serve":
        print("usage: tandem-python serve\n(configured by SAGEMAKER_PROGRAM, TANDEM_FRAMEWORK, "
              "SM_MODEL_DIR and the other variables in docs/python.md)", file=sys.stderr)
        return 2
    from .master import serve
    return serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
