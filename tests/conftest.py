"""Shared fixtures, Hypothesis profiles and the pytest-benchmark default of the test suite.

The fixtures `backend`, `candidate`, `naive` and `torch` come from the conformance suite's
plugin (kernels.conformance.plugin): every test that takes `backend` runs once per available
backend (`kernels.available()`, ids = names; --convbench-backend NAME narrows it), so a
backend added to the registry later is tested without touching the suite. Tests that compare a
backend with the naive reference take `candidate` instead: every backend except naive itself
(comparing naive with naive would pass by construction); naive is checked against independent
oracles (SciPy, PyTorch, finite differences) instead. A backend that is registered but cannot
be loaded is not listed by `kernels.available()`; tests/test_kernels/test_registry.py and
`python -m kernels list` say why.

Hypothesis profiles: "ci" (200 examples, derandomized so a CI run is reproducible) is loaded
when the CI environment variable is set, otherwise "dev" (50 examples). HYPOTHESIS_PROFILE
overrides the choice.

The `frameworks` marker: the tests that PyTorch, JAX or ONNX Runtime enable, which skip
without them (the README's `pip install -e '.[test]' && pytest` installs none). CI runs that
command first, then installs the frameworks and runs only `pytest -m frameworks`, not the
whole suite again. The marker is put on every test parametrized with a framework's name
(`backend`, `candidate` or any parameter is torch, jax, tensorflow or onnxruntime; also the
skipped `conformance[NAME]` standing for a framework that cannot load) and every test taking
the `torch` oracle fixture; any other test that
skips for a missing framework must carry `@pytest.mark.frameworks` itself: unmarked, such a
skip is turned into a failure, since CI's framework run would never run that test.

pytest-benchmark: in a plain `pytest` run every benchmark executes once, untimed, as a smoke
test; asking for timings (--benchmark-only, --benchmark-enable, --benchmark-json, ...)
times them. (`--benchmark-disable` in the ini options would make --benchmark-only an error.)
Timed, each benchmark records the machine's load and a busy run says so (benchmark_load.py).
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import settings

from kernels import plugins

pytest_plugins = ["kernels.conformance.plugin", "benchmark_load"]  # busy flags: its docstring

# ci: derandomized (examples derived from each test's name) and no example database, so two
# CI runs of the same code test exactly the same inputs.
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          database=None, print_blob=True)
settings.register_profile("dev", max_examples=50, deadline=None, print_blob=True)


def _profile_name() -> str:
    explicit = os.environ.get("HYPOTHESIS_PROFILE")
    if explicit:
        return explicit
    ci = os.environ.get("CI", "").strip().lower()
    return "ci" if ci not in ("", "0", "false", "no") else "dev"


settings.load_profile(_profile_name())

TIMING_REQUESTS = ("benchmark_only", "benchmark_enable", "benchmark_json", "benchmark_save",
                   "benchmark_autosave", "benchmark_compare", "benchmark_histogram")


FRAMEWORKS_MARK = "frameworks"
# A skip reason that names a framework's package: the test needs that framework.
FRAMEWORK_SKIP = re.compile(r"\b(?:torch|jax|jaxlib|onnxruntime|onnx|tensorflow)\b")


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads the option
def pytest_configure(config):
    config.addinivalue_line("markers", f"{FRAMEWORKS_MARK}: needs PyTorch, JAX, TensorFlow "
                                       f"or ONNX Runtime (skipped without it); CI runs "
                                       f"`pytest -m {FRAMEWORKS_MARK}` once they are installed")
    option = config.option
    if hasattr(option, "benchmark_disable") and not any(
            getattr(option, name, None) for name in TIMING_REQUESTS):
        option.benchmark_disable = True


def needs_a_framework(item) -> bool:
    """Whether the test exercises a framework by construction: parametrized with a
    framework's name (its backend, as `backend`, `candidate` or any other parameter), the
    skipped stand-in for a framework's suite, or taking the PyTorch oracle fixture."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    names = [*params.values(), getattr(item, "backend_name", None)]
    return any(isinstance(n, str) and n in plugins.FRAMEWORKS for n in names) or \
        "torch" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):  # before -m deselects (conftest first)
    for item in items:
        if needs_a_framework(item):
            item.add_marker(FRAMEWORKS_MARK)


def unmarked_framework_skip(item, report) -> str | None:
    """Why a skipped test must carry the frameworks marker, or None: it skipped for a
    framework (its reason names one) without the marker, so `pytest -m frameworks` would
    never run it."""
    if not report.skipped or hasattr(report, "wasxfail") or \
            item.get_closest_marker(FRAMEWORKS_MARK) is not None:
        return None
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not FRAMEWORK_SKIP.search(reason):
        return None
    return (f"skipped for a framework ({reason}) without @pytest.mark.{FRAMEWORKS_MARK}: "
            f"CI's run with the frameworks installed (pytest -m {FRAMEWORKS_MARK}) would "
            f"never run it; mark the test")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    problem = unmarked_framework_skip(item, report)
    if problem is not None:
        report.outcome = "failed"
        report.longrepr = problem
