"""Serving a SageMaker entry-point script (inference.py): one invocation in, one answer out.

`Service.load` imports the script and loads the model once; `Service.invoke` runs one request
through the handlers exactly as AWS's framework containers do (docs/python.md), and never
raises. The HTTP and shared-memory layers and
the worker processes are built around it; nothing here does IO besides the script's own.

Frameworks:

* ``sklearn``, ``xgboost``: the Flask-family containers. model_fn is required (its absence is
  a StartupError at load, where the containers answer 500 to every request); the container's
  default input/predict/output functions fill the gaps; every failure is 500.
* ``pytorch``: the TorchServe family. SAGEMAKER_PROGRAM defaults to inference.py; if the code
  directory has no such module, every handler is the default (TorchScript model.pt). Handlers
  may take a trailing ``context``; a BaseInferenceToolkitError answers with its own status.
* ``none``: no default handlers, for scripts that are not framework models:

  - model_fn is optional: without it the model is None;
  - either transform_fn(model, body, content_type, accept), or predict_fn(data, model) with
    optional input_fn(body, content_type) and output_fn(prediction, accept); with neither
    transform_fn nor predict_fn the script is a StartupError;
  - the body is always the raw bytes; content_type is the request's Content-Type or None;
    accept is the request's Accept, or the default Accept when it is missing or "*/*";
  - without input_fn, predict_fn gets the raw bytes;
  - the answer (from output_fn, or predict_fn without it, or transform_fn) must be bytes or
    str (sent as UTF-8) with Content-Type = accept, a (body, content_type) tuple, or a
    worker.Response; anything else is a 500 that says to define output_fn.
"""

import os
from dataclasses import dataclass
from typing import Optional

from . import loader
from .errors import StartupError, UserCode

FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "none")
PYTORCH_DEFAULT_PROGRAM = "inference.py"


@dataclass
class Invocation:
    body: bytes
    content_type: str = ""  # "" when the request had no Content-Type
    accept: str = ""  # "" when absent
    custom_attributes: str = ""
    inference_id: str = ""


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: Optional[str]  # None: send no Content-Type header
    custom_attributes: Optional[str] = None


__all__ = ["Answer", "Invocation", "Service", "StartupError", "FRAMEWORKS"]


class Service:
    """An entry-point script loaded with its model, ready to answer invocations.

    One Service per worker process, one invocation at a time (the PyTorch family's context is
    one object per worker, as in TorchServe). Loading changes sys.path and sys.modules.
    """

    def __init__(self, engine, framework, module_file):
        self._engine = engine
        self.framework = framework
        self.module_file = module_file  # None when pytorch runs on defaults alone
        self.model = engine.model

    def invoke(self, invocation: Invocation) -> Answer:
        try:
            return self._engine.invoke(invocation)
        except Exception as e:  # the engines answer every handler error; this is a last guard
            return Answer(500, ("tandem-python: internal error: %r\n" % (e,)).encode(),
                          "text/plain; charset=utf-8")

    @classmethod
    def load(
        cls,
        *,
        program: str,
        code_dir: str,
        model_dir: str,
        framework: str,
        default_accept: str = "application/json",
    ) -> "Service":
        if framework not in FRAMEWORKS:
            raise StartupError(
                "TANDEM_FRAMEWORK=%s: expected one of %s" % (framework, ", ".join(FRAMEWORKS))
            )
        code_dir = os.path.abspath(code_dir)
        loader.prepare_sys_path(code_dir)
        user_code = UserCode(code_dir)
        program = program or (PYTORCH_DEFAULT_PROGRAM if framework == "pytorch" else "")
        if not program:
            raise StartupError(
                "SAGEMAKER_PROGRAM is not set: the %s framework serves an entry-point script "
                "(e.g. SAGEMAKER_PROGRAM=inference.py in %s)" % (framework, code_dir)
            )
        module_name = loader.module_name_of(program)
        module_file = module_name + ".py"
        module = None
        if loader.module_exists(code_dir, module_name):
            module = loader.import_user_module(code_dir, module_name, user_code)
            module_file = user_code.name(getattr(module, "__file__", None) or module_file)
        elif framework != "pytorch":
            raise StartupError(
                "SAGEMAKER_PROGRAM=%s: no %s in the code directory %s"
                % (program, module_file, code_dir)
            )
        handlers = loader.UserHandlers(module, module_file, user_code)
        handlers.check_transform_fn_alone()
        build = {"sklearn": _flask, "xgboost": _flask, "pytorch": _torch, "none": _plain}
        engine = build[framework](handlers, framework, model_dir, default_accept, user_code)
        return cls(engine, framework, module_file if module is not None else None)


def _stage(fn, name, default_label=None):
    from .engines import Stage

    return Stage(fn, name if default_label is None else "%s (%s)" % (name, default_label))


def _flask(handlers, framework, model_dir, default_accept, user_code):
    from . import defaults
    from .engines import FlaskEngine

    if handlers.model_fn is None:
        raise StartupError(
            "%s: no model_fn: the %s container has no default model_fn; define "
            "model_fn(model_dir) returning the model loaded from the model directory"
            % (handlers.module_file, framework)
        )
    model = loader.call_model_loader(
        "model_fn", handlers.model_fn, (model_dir,), user_code, handlers.where("model_fn")
    )
    transform = None
    stages = None
    if handlers.transform_fn is not None:
        transform = _stage(handlers.transform_fn, "transform_fn")
    else:
        made = (
            defaults.sklearn_handlers() if framework == "sklearn" else defaults.xgboost_handlers()
        )
        label = "%s default" % framework
        stages = tuple(
            _stage(getattr(handlers, name), name) if getattr(handlers, name) is not None
            else _stage(made[i], name, label)
            for i, name in enumerate(("input_fn", "predict_fn", "output_fn"))
        )
    return FlaskEngine(Answer, model, default_accept, user_code, stages, transform)


def _torch(handlers, framework, model_dir, default_accept, user_code):
    from . import defaults
    from .context import Context
    from .engines import Stage, TorchEngine

    default_model_fn, default_input, default_predict, default_output = defaults.pytorch_handlers()
    context = Context(model_dir)
    uses_context = False

    def bind(fn, name, nargs, default=None):
        """The handler (or default) called with `nargs` arguments, the context appended if it
        takes one."""
        nonlocal uses_context
        if fn is None:
            return Stage(default, "%s (pytorch default)" % name)
        if loader.takes_context(fn, nargs, name, handlers.where(name)):
            uses_context = True
            return Stage(lambda *args: fn(*args, context), name)
        return Stage(fn, name)

    model_stage = bind(handlers.model_fn, "model_fn", 1, default_model_fn)
    pre_model = bind(handlers.pre_model_fn, "pre_model_fn", 1) if handlers.pre_model_fn else None
    warmup = (
        bind(handlers.model_warmup_fn, "model_warmup_fn", 2) if handlers.model_warmup_fn else None
    )
    transform = None
    stages = None
    if handlers.transform_fn is not None:
        transform = bind(handlers.transform_fn, "transform_fn", 4)
    else:
        stages = (
            bind(handlers.input_fn, "input_fn", 2, default_input),
            bind(handlers.predict_fn, "predict_fn", 2, default_predict),
            bind(handlers.output_fn, "output_fn", 2, default_output),
        )

    where = handlers.where("model_fn") if handlers.model_fn else model_dir
    if pre_model is not None:
        loader.call_model_loader(pre_model.label, pre_model.fn, (model_dir,), user_code, where)
    model = loader.call_model_loader(model_stage.label, model_stage.fn, (model_dir,), user_code,
                                     where)
    if warmup is not None:
        loader.call_model_loader(warmup.label, warmup.fn, (model_dir, model), user_code, where)
    from sagemaker_inference.errors import BaseInferenceToolkitError

    return TorchEngine(Answer, model, default_accept, user_code, stages, transform,
                       context if uses_context else None, BaseInferenceToolkitError)


def _plain(handlers, framework, model_dir, default_accept, user_code):
    from .engines import PlainEngine

    model = None
    if handlers.model_fn is not None:
        model = loader.call_model_loader(
            "model_fn", handlers.model_fn, (model_dir,), user_code, handlers.where("model_fn")
        )
    if handlers.transform_fn is None and handlers.predict_fn is None:
        raise StartupError(
            "%s: no predict_fn and no transform_fn: with TANDEM_FRAMEWORK=none there are no "
            "default handlers; define predict_fn(data, model) or transform_fn(model, body, "
            "content_type, accept)" % handlers.module_file
        )
    transform = _stage(handlers.transform_fn, "transform_fn") if handlers.transform_fn else None
    stages = None
    if transform is None:
        stages = (
            _stage(handlers.input_fn, "input_fn") if handlers.input_fn else None,
            _stage(handlers.predict_fn, "predict_fn"),
            _stage(handlers.output_fn, "output_fn") if handlers.output_fn else None,
        )
    return PlainEngine(Answer, model, default_accept, user_code, stages, transform)
