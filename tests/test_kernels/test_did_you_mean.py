"""A mistyped backend name gets "did you mean" wherever one is rejected (issue 23): the
registry, `python -m kernels verify`, `bench --backends`, and `python -m cnn ... --backend`."""

from __future__ import annotations

import pytest

import kernels
from kernels import plugins
from kernels.bench import cli as bench_cli
from kernels.conformance import verify


def test_the_registry_suggests_the_nearest_name():
    with pytest.raises(ValueError, match=r"unknown backend 'blockd' \(did you mean 'blocked'\?\); "
                                         r"available: naive"):
        kernels.get_backend("blockd")
    with pytest.raises(ValueError, match=r"did you mean 'im2col'"):
        kernels.role("im2cl")
    with pytest.raises(ValueError) as error:  # nothing near: no guess
        kernels.get_backend("qqqqqq")
    assert "did you mean" not in str(error.value)
    assert plugins.did_you_mean("blocked") == ""  # a known name is never its own guess


def test_verify_suggests_in_its_one_line(capsys):
    assert verify.main(["winograd2x3", "--quick"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "did you mean 'winograd2x2'?" in err


def test_bench_backends_suggest(capsys):
    with pytest.raises(SystemExit) as stop:
        bench_cli.main(["--backends", "im2col,blockd", "--cases", "tiny", "--quick"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "blockd (did you mean 'blocked'?)" in err


@pytest.mark.parametrize("command", [["train"], ["evaluate", "m.npz"], ["predict", "m.npz", "0"]])
def test_the_cnn_commands_suggest(command, capsys):
    from cnn_helpers import run
    code, out, err = run([*command, "--backend", "blockd"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "invalid choice: 'blockd' (did you mean 'blocked'?)" in err


def test_the_cnn_commands_say_why_a_registered_backend_cannot_be_used(capsys, monkeypatch):
    from cnn_helpers import run
    monkeypatch.setitem(plugins.FRAMEWORKS, "halflib", ("kernels.backends.naive",
                                                        "no_such_package_xyz",
                                                        "convbench[halflib]"))
    plugins.forget()
    try:
        code, _, err = run(["evaluate", "m.npz", "--backend", "halflib"], capsys)
    finally:
        monkeypatch.undo()
        plugins.forget()
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "backend 'halflib' is unavailable: no_such_package_xyz is not installed " \
           "(pip install 'convbench[halflib]')" in err
