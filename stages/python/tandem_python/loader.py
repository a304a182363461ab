"""Loading an entry-point script: import it, find its handlers, check they fit together.

Everything that can be decided before the first request is decided here, and every problem
is a StartupError of one line that names the file and line it applies to.
"""

import importlib
import inspect
import os
import sys

from .errors import StartupError, describe

HANDLER_NAMES = (
    "model_fn",
    "input_fn",
    "predict_fn",
    "output_fn",
    "transform_fn",
    "pre_model_fn",
    "model_warmup_fn",
)

SHIM_PACKAGES = ("sagemaker_containers", "sagemaker_inference", "sagemaker_xgboost_container")


def shims_dir():
    """stages/python/shims, beside the tandem_python package."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shims")


def prepare_sys_path(code_dir):
    """The code directory first on sys.path, then tandem-python's helper modules."""
    for entry in (shims_dir(), code_dir):
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)


def module_name_of(program):
    """SAGEMAKER_PROGRAM as a module name: a trailing ".py" stripped."""
    return program[:-3] if program.endswith(".py") else program


def module_exists(code_dir, module_name):
    """Whether the code directory holds the module, as a file or a package."""
    if os.path.isfile(os.path.join(code_dir, module_name + ".py")):
        return True
    return os.path.isfile(os.path.join(code_dir, module_name, "__init__.py"))


class UserHandlers:
    """The handler functions a script defines (None for each one it does not)."""

    def __init__(self, module, module_file, user_code):
        self.module_file = module_file
        self.user_code = user_code
        for name in HANDLER_NAMES:
            value = getattr(module, name, None) if module is not None else None
            if value is not None and not callable(value):
                raise StartupError(
                    "%s: %s is a %s, not a function" % (module_file, name, type(value).__name__)
                )
            setattr(self, name, value)

    def where(self, name):
        """"file:line" of a handler's definition (the module file when unknown)."""
        fn = getattr(self, name)
        code = getattr(fn, "__code__", None)
        if code is None:
            return self.module_file
        return "%s:%d" % (self.user_code.name(code.co_filename), code.co_firstlineno)

    def check_transform_fn_alone(self):
        """transform_fn replaces input_fn, predict_fn and output_fn: both is an error."""
        if self.transform_fn is None:
            return
        others = [n for n in ("input_fn", "predict_fn", "output_fn") if getattr(self, n)]
        if others:
            raise StartupError(
                "%s: transform_fn cannot be used together with %s (%s): define either "
                "transform_fn or input_fn/predict_fn/output_fn"
                % (
                    self.where("transform_fn"),
                    ", ".join(others),
                    ", ".join("%s at %s" % (n, self.where(n)) for n in others),
                )
            )


def import_user_module(code_dir, module_name, user_code):
    """Import the entry point from the code directory, turning failures into StartupErrors."""
    program_file = module_name + ".py"
    sys.modules.pop(module_name, None)  # a load runs the script afresh
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module_name)
    except SyntaxError as e:
        where = "%s:%s" % (user_code.name(e.filename or program_file), e.lineno or "?")
        raise StartupError(
            "%s: %s: %s" % (where, type(e).__name__, e.msg), _traceback_text()
        ) from None
    except ModuleNotFoundError as e:
        raise StartupError(_missing_module_line(e, program_file, user_code), _traceback_text())
    except (Exception, SystemExit) as e:
        where = user_code.where(e.__traceback__) or program_file + ": "
        line = "%simporting %s failed: %s" % (where, program_file, describe(e))
        if isinstance(e, ImportError) and (e.name or "").split(".")[0] in SHIM_PACKAGES:
            line += _shim_hint(e.name)
        raise StartupError(line, _traceback_text()) from None


def _missing_module_line(e, program_file, user_code):
    missing = e.name or str(e)
    where = user_code.where(e.__traceback__) or program_file + ": "
    line = (
        "%sno module named '%s' (imported by %s): tandem-python has no package registry to "
        "install it from; ship it in the code directory or install it on this machine"
        % (where, missing, program_file)
    )
    if missing.split(".")[0] in SHIM_PACKAGES:
        line += _shim_hint(missing)
    return line


def _shim_hint(name):
    return " (tandem-python's %s provides only the modules scripts use while serving)" % (
        name.split(".")[0]
    )


def _traceback_text():
    import traceback

    return traceback.format_exc()


def call_model_loader(label, fn, args, user_code, default_where):
    """Run model_fn (or pre_model_fn / model_warmup_fn) at load: a failure is a StartupError
    naming the innermost line of the user's code and the exception."""
    try:
        return fn(*args)
    except (Exception, SystemExit) as e:
        where = user_code.where(e.__traceback__) or default_where + ": "
        raise StartupError("%s%s failed: %s" % (where, label, describe(e)), _traceback_text())


def takes_context(fn, nargs, label, where):
    """Whether a PyTorch-family handler takes the trailing `context` (by its arity, as the
    inference toolkit decides); any other arity is a StartupError."""
    try:
        count = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    if count == nargs:
        return False
    if count == nargs + 1:
        return True
    raise StartupError(
        "%s: %s takes %d arguments; it must take %d (or %d with a trailing context)"
        % (where, label, count, nargs, nargs + 1)
    )
