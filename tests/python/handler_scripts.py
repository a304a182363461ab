"""Helpers for the tests of tandem-python's handler layer: entry-point scripts written into a
temporary code directory and loaded as a Service."""

import os
import sys
import textwrap

STAGES_PYTHON = os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "stages", "python")
)
if STAGES_PYTHON not in sys.path:
    sys.path.insert(0, STAGES_PYTHON)

from tandem_python.service import Answer, Invocation, Service, StartupError  # noqa: E402

__all__ = ["Answer", "Invocation", "Service", "StartupError", "load", "write_code"]


def write_code(tmp_path, source, program="inference.py", extra=None):
    """The code directory holding `source` as `program` (and `extra` {name: source})."""
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    if source is not None:
        (code / (program or "inference.py")).write_text(textwrap.dedent(source))
    for name, text in (extra or {}).items():
        (code / name).write_text(textwrap.dedent(text))
    return code


def model_dir(tmp_path):
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    return model


def load(tmp_path, source, framework, program="inference.py", extra=None, **kwargs):
    """A Service for `source` (None: no script) under `framework`."""
    code = write_code(tmp_path, source, program, extra)
    return Service.load(
        program=program,
        code_dir=str(code),
        model_dir=str(model_dir(tmp_path)),
        framework=framework,
        **kwargs,
    )


def invoke(service, body, content_type="", accept="", **kwargs):
    if isinstance(body, str):
        body = body.encode()
    return service.invoke(Invocation(body, content_type, accept, **kwargs))
