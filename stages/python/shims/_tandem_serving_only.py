"""Stand-ins for the training helpers of AWS's containers.

Scripts that both train and serve import training helpers at module level
(`from sagemaker_containers import entry_point`, `sagemaker_xgboost_container.distributed`,
`...data_utils`). Under tandem-python such a module imports, so the serving functions of the
script work; calling one of its training functions raises TrainingOnlyError, which says so.
"""


class TrainingOnlyError(RuntimeError):
    """A training-only helper was called while the script is being served by tandem-python."""


def unavailable(module, name):
    """A function standing in for `module.name` that raises TrainingOnlyError when called."""
    qualified = "%s.%s" % (module, name)

    def stand_in(*args, **kwargs):
        raise TrainingOnlyError(
            "%s is a training helper of AWS's containers; it is not available while serving "
            "under tandem-python (only the serving functions of the script run here)" % qualified
        )

    stand_in.__name__ = name
    stand_in.__qualname__ = name
    stand_in.__module__ = module
    return stand_in


def module_getattr(module):
    """A PEP 562 `__getattr__` for a training-only module: any public name is a stand-in."""

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        return unavailable(module, name)

    return __getattr__
