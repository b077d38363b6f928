"""A framework or plug-in that cannot load never stops the suite (issue 23).

`onnxruntime` installed without `onnx` used to end `pytest` at start ("ERROR:
--convbench-backend: backend 'onnxruntime' is unavailable"). Now a framework missing one of
its packages is listed unavailable with the extra that installs it, and a backend that fails
to load is one skipped test with its reason in a run over every backend, while `verify` of it
is a one-line usage error (exit 2) naming what to install. The frameworks are simulated here,
so these tests run (and can fail) without any of them installed.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

import kernels
from kernels import listing, plugins
from kernels.conformance import verify


@pytest.fixture
def frameworks(monkeypatch):
    """Two fake frameworks: `halflib`, whose package is installed (json) but a companion
    package is not; `brokenlib`, whose packages are all there but whose backend module fails
    to import (as onnxruntime's does without onnx, when only loading can tell)."""
    monkeypatch.delenv(plugins.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setitem(plugins.FRAMEWORKS, "halflib",
                        ("kernels.backends.naive", "json", "convbench[halflib]"))
    monkeypatch.setitem(plugins.COMPANIONS, "halflib", ("no_such_companion_xyz",))
    monkeypatch.setitem(plugins.FRAMEWORKS, "brokenlib",
                        ("no_such_backend_module_xyz", "json", "convbench[brokenlib]"))
    plugins.forget()
    yield monkeypatch
    monkeypatch.undo()
    plugins.forget()


def _reasons():
    return {row["name"]: row["reason"] for row in kernels.status(load=True)}


def test_a_framework_missing_a_companion_package_is_unavailable_with_its_extra(frameworks):
    assert "halflib" not in kernels.available()
    assert _reasons()["halflib"] == ("no_such_companion_xyz is not installed "
                                     "(pip install 'convbench[halflib]')")
    with pytest.raises(ValueError, match=r"pip install 'convbench\[halflib\]'"):
        kernels.get_backend("halflib")


def test_a_framework_that_fails_to_load_says_what_to_install(frameworks):
    reason = _reasons()["brokenlib"]
    assert "No module named 'no_such_backend_module_xyz'" in reason
    assert reason.endswith("(pip install 'convbench[brokenlib]')")


def test_onnxruntime_without_onnx_is_unavailable_not_loaded(monkeypatch):
    if importlib.util.find_spec("onnxruntime") is None:  # simulate it installed, too
        monkeypatch.setitem(plugins.FRAMEWORKS, "onnxruntime",
                            ("kernels.backends.libraries.onnxruntime", "json",
                             "convbench[onnxruntime]"))
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` fails, find_spec: None
    plugins.forget()
    try:
        assert "onnxruntime" not in kernels.available()
        assert _reasons()["onnxruntime"] == \
            "onnx is not installed (pip install 'convbench[onnxruntime]')"
    finally:
        monkeypatch.undo()
        plugins.forget()


@pytest.mark.parametrize("name", ["halflib", "brokenlib"])
def test_verify_of_a_framework_that_cannot_load_is_one_line_naming_the_extra(
        frameworks, capsys, name):
    assert verify.main([name, "--quick"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith("python -m kernels verify: error: ")
    assert f"pip install 'convbench[{name}]'" in err


def test_list_shows_both_with_their_reasons(frameworks, capsys):
    assert listing.main([]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    assert "unavailable: no_such_companion_xyz is not installed" in lines["halflib"]
    assert "unavailable: cannot load no_such_backend_module_xyz" in lines["brokenlib"]


def test_a_run_over_every_backend_skips_one_that_cannot_load_with_its_reason(
        frameworks, tmp_path, capsys):
    """The project's own `pytest` (no --convbench-backend): the others run, the broken one
    is one skipped test whose reason `-ra` shows; asked for by name, it is a usage error."""
    (tmp_path / "test_one.py").write_text("def test_it(candidate):\n    assert candidate\n")
    common = [str(tmp_path), "-p", "kernels.conformance.plugin", "-p", "no:cacheprovider",
              "-p", "no:benchmark", "-ra", "-q", "--rootdir", str(tmp_path)]
    assert pytest.main(common) == pytest.ExitCode.OK
    out = capsys.readouterr().out
    assert "test_it[blocked] PASSED" in out or "passed" in out, out
    skipped = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert any("backend 'brokenlib' is unavailable: cannot load no_such_backend_module_xyz"
               in line and "pip install 'convbench[brokenlib]'" in line for line in skipped), out
    assert any("no_such_companion_xyz is not installed" in line for line in skipped), out
    assert pytest.main([*common, "--convbench-backend", "brokenlib"]) == \
        pytest.ExitCode.USAGE_ERROR
    assert "--convbench-backend: backend 'brokenlib' is unavailable" in capsys.readouterr().err
