"""Fixtures shared by the kernel tests."""

import pytest

from kernels import plugins


@pytest.fixture
def fresh(monkeypatch):
    """Discovery runs again under the test's CONVBENCH_BACKENDS and entry points."""
    monkeypatch.delenv(plugins.ENVIRONMENT_VARIABLE, raising=False)
    plugins.forget()
    yield monkeypatch
    plugins.forget()
