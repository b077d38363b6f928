"""Shared fixtures, Hypothesis profiles and the pytest-benchmark default of the test suite.

Every test that takes `backend` runs once per registered backend (`kernels.available()`, ids =
names), so a backend added to the registry later is tested without touching the suite. Tests
that compare a backend with the naive reference take `candidate` instead: every registered
backend except naive itself (comparing naive with naive would pass by construction); naive is
checked against independent oracles (SciPy, PyTorch, finite differences) instead.

A registered backend whose module is missing is NOT skipped: its tests fail at setup with the
ModuleNotFoundError, because a registry entry without an implementation is a bug.

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

import kernels

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

BACKEND_NAMES = kernels.available()
CANDIDATE_NAMES = [name for name in BACKEND_NAMES if kernels.role(name) != kernels.REFERENCE]


@pytest.fixture(scope="session", params=BACKEND_NAMES, ids=BACKEND_NAMES)
def backend(request):
    """Every registered backend, naive included."""
    return kernels.get_backend(request.param)


@pytest.fixture(scope="session", params=CANDIDATE_NAMES, ids=CANDIDATE_NAMES)
def candidate(request):
    """Every registered backend except naive: the ones checked against the naive reference."""
    return kernels.get_backend(request.param)


@pytest.fixture(scope="session")
def naive():
    """The reference backend."""
    return kernels.get_backend("naive")


TIMING_REQUESTS = ("benchmark_only", "benchmark_enable", "benchmark_json", "benchmark_save",
                   "benchmark_autosave", "benchmark_compare", "benchmark_histogram")


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads the option
def pytest_configure(config):
    option = config.option
    if hasattr(option, "benchmark_disable") and not any(
            getattr(option, name, None) for name in TIMING_REQUESTS):
        option.benchmark_disable = True
