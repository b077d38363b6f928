"""What CI (.ci/run) runs and in which order, and the `frameworks` marker it selects with.

The README's test command must pass on a machine with none of the frameworks (issue 23: it
did not), so CI runs it first, verbatim, in a virtualenv holding only what it installs; then
it installs the frameworks and runs only the tests they enable (`pytest -m frameworks`,
tests/conftest.py), not the whole suite again.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
CI_LINES = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]
README_TEST = re.search(r"^(pip install -e '\.\[test\]' && pytest)\b", (ROOT / "README.md")
                        .read_text(), re.M)


@pytest.fixture
def conftest(pytestconfig):
    """tests/conftest.py as pytest loaded it (`import conftest` may find test_cnn's)."""
    path = ROOT / "tests" / "conftest.py"
    return next(p for p in pytestconfig.pluginmanager.get_plugins()
                if getattr(p, "__file__", None) and Path(p.__file__) == path)


def _first(predicate) -> int:
    return next(i for i, line in enumerate(CI_LINES) if predicate(line))


def test_the_readme_test_command_runs_first_with_only_what_it_installs():
    assert README_TEST, "the README shows no `pip install -e '.[test]' && pytest`"
    readme = _first(lambda line: line.startswith(README_TEST.group(1)))
    installs = [line for line in CI_LINES[:readme] if re.search(r"\bpip install\b", line)]
    assert installs == ["python -m pip install --quiet --upgrade pip"], installs
    assert not any(re.search(r"\bpytest\b", line) for line in CI_LINES[:readme])
    assert "MNIST_DIR" in " ".join(CI_LINES[:readme])  # the real-data tests run too


def test_the_frameworks_come_after_pinned_torch_first_then_only_their_tests():
    readme = _first(lambda line: line.startswith(README_TEST.group(1)))
    torch = _first(lambda line: "torch==2.13.0" in line)
    extras = _first(lambda line: "[jax,onnxruntime" in line)
    selected = _first(lambda line: line.startswith("pytest -m frameworks"))
    assert readme < torch < extras < selected
    # no install between the README's command and torch names torch (an unpinned one)
    assert not any("torch" in line for line in CI_LINES[readme + 1:torch])
    # the whole suite runs once: every later pytest is a selection (a marker, -k or files)
    later = [line for line in CI_LINES[readme + 1:] if re.match(r"pytest\b", line)]
    assert all(" -m " in line or " -k " in line or re.match(r"pytest( tests/\S+\.py)+ ", line)
               for line in later), later


def test_a_failing_pytest_stops_ci_exit_code_5_included():
    for line in CI_LINES:
        if re.search(r"(^|&& )pytest( -m|$| \|\|)", line):
            assert "|| pytest_failed" in line, line


def _item(params=None, marked=False, fixtures=(), backend_name=None):
    item = SimpleNamespace(fixturenames=list(fixtures),
                           get_closest_marker=lambda name: object() if marked else None)
    if params is not None:
        item.callspec = SimpleNamespace(params=params)
    if backend_name is not None:
        item.backend_name = backend_name
    return item


def _skip(reason):
    return SimpleNamespace(skipped=True, longrepr=("t.py", 3, f"Skipped: {reason}"))


@pytest.mark.parametrize("item, needs", [
    (_item({"backend": "torch"}), True),
    (_item({"candidate": "onnxruntime", "dtype": "float32"}), True),
    (_item({"backend_name": "jax"}), True),          # any parameter naming a framework
    (_item(fixtures=["torch", "candidate"], params={"candidate": "im2col"}), True),
    (_item(backend_name="tensorflow"), True),        # the stand-in for a suite not run
    (_item({"backend": "im2col"}), False),
    (_item({"backend": object()}), False),
    (_item(), False),
])
def test_the_tests_a_framework_enables_are_marked(conftest, item, needs):
    assert conftest.needs_a_framework(item) is needs


def test_an_unmarked_skip_for_a_missing_framework_is_a_failure(conftest):
    problem = conftest.unmarked_framework_skip(
        _item(), _skip("could not import 'torch': No module named 'torch'"))
    assert problem and "pytest -m frameworks" in problem and "mark the test" in problem
    assert conftest.unmarked_framework_skip(_item(), _skip("jax is not installed"))
    # marked, or skipped for another reason, or not skipped: nothing to say
    assert conftest.unmarked_framework_skip(
        _item(marked=True), _skip("could not import 'torch'")) is None
    assert conftest.unmarked_framework_skip(_item(), _skip("MNIST_DIR is not set")) is None
    assert conftest.unmarked_framework_skip(
        _item(), SimpleNamespace(skipped=False, longrepr=None)) is None


@pytest.mark.frameworks
def test_the_marker_is_registered(pytestconfig):
    assert any(line.startswith("frameworks:") for line in pytestconfig.getini("markers"))
