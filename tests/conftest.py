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

pytest-benchmark: in a plain `pytest` run every benchmark executes once, untimed, as a smoke
test; asking for timings (--benchmark-only, --benchmark-enable, --benchmark-json, ...)
times them. (`--benchmark-disable` in the ini options would make --benchmark-only an error.)
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

pytest_plugins = ["kernels.conformance.plugin"]

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


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads the option
def pytest_configure(config):
    option = config.option
    if hasattr(option, "benchmark_disable") and not any(
            getattr(option, name, None) for name in TIMING_REQUESTS):
        option.benchmark_disable = True
