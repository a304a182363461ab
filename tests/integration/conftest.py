"""Fixtures for tandem's integration tests (the helpers they use are in harness.py).

`tandem_factory(spec)` starts `tandem serve` on the spec (see harness.TandemFactory) and, at
teardown, SIGTERMs every tandem still running, requires exit status 0 and requires every
stage process it started to be gone. A failed test prints the logs of the tandems it used.
"""
import pytest

from harness import TandemFactory

_module_factories: list[TandemFactory] = []


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _print_logs(factories) -> None:
    for factory in factories:
        for tandem in factory.started:
            print(f"--- log of tandem '{tandem.name}' ({tandem.log_path}) ---")
            print(tandem.log_tail(200))


def _failed(request) -> bool:
    report = getattr(request.node, "rep_call", None)
    return report is not None and report.failed


@pytest.fixture(autouse=True)
def _print_module_logs_on_failure(request):
    yield
    if _failed(request):
        _print_logs(_module_factories)


@pytest.fixture
def tandem_factory(tmp_path, request):
    factory = TandemFactory(tmp_path)
    yield factory
    if _failed(request):
        _print_logs([factory])
    problems = factory.stop_all()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_tandem_factory(tmp_path_factory, request):
    """For a tandem shared by the tests of one module (read-only checks on one pipeline)."""
    factory = TandemFactory(tmp_path_factory.mktemp(request.module.__name__))
    _module_factories.append(factory)
    yield factory
    _module_factories.remove(factory)
    problems = factory.stop_all()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
