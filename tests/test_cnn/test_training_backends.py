"""`--backend` takes any available backend, libraries and plug-ins included; training refuses,
in one line before anything is read, one that lacks a backward pass, while evaluate and
predict run with it (issue 15). The libraries here are stand-ins registered with
kernels.register: im2col's arithmetic behind a library's name."""

from __future__ import annotations

import pytest

import kernels
from cnn_helpers import assert_one_line_error, listing, run
from kernels import plugins

TINY = ["--arch", "tiny", "--epochs", "1", "--limit-train", "64", "--limit-test", "32",
        "--batch-size", "16", "--no-progress"]
FORWARD_METHODS = ("conv2d_forward", "max_pool2d_forward", "max_pool2d_backward",
                   "avg_pool2d_forward", "avg_pool2d_backward")


class Library:
    """A library backend computing `passes` with im2col's arithmetic."""

    def __init__(self, name, passes):
        self.name, self.PASSES = name, passes
        inner = kernels.get_backend("im2col")
        self.unsupported = inner.unsupported
        for method in FORWARD_METHODS:
            setattr(self, method, getattr(inner, method))
        if kernels.BACKWARD_DATA in passes:
            self.conv2d_backward = inner.conv2d_backward


@pytest.fixture
def library():
    """Register stand-ins under the given name and passes; removed afterwards."""
    names = []

    def add(name, passes):
        kernels.register(name, Library(name, passes))
        names.append(name)
        return name
    yield add
    for name in names:
        plugins.unregister(name)


@pytest.fixture
def model_file(fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    path = tmp_path / "m.npz"
    code, _, err = run(["train", *TINY, "--backend", "im2col", "--data-dir", directory,
                        "--save", path], capsys)
    assert code == 0, err
    return path


@pytest.mark.parametrize("passes, words", [
    ((kernels.FORWARD,), "computes only the forward pass; it cannot train"),
    ((kernels.FORWARD, kernels.BACKWARD_DATA),
     "computes only the forward and backward-data passes; it cannot train"),
])
def test_training_refuses_a_backend_without_the_backward_passes(passes, words, library,
                                                                 tmp_path, monkeypatch, capsys):
    from cnn import data

    name = library("inferonly", passes)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))  # never the internet
    code, _, err = run(["train", *TINY, "--backend", name, "--data-dir", "nowhere"], capsys)
    assert_one_line_error(code, err, f"train: error: {name} {words}")
    assert listing(tmp_path) == []  # neither data (nowhere) nor a checkpoint touched


def test_a_forward_only_backend_evaluates_and_predicts(library, model_file, fake_mnist,
                                                       capsys):
    directory, _ = fake_mnist
    name = library("inferonly", (kernels.FORWARD,))
    code, out, err = run(["evaluate", model_file, "--backend", name, "--data-dir", directory,
                          "--no-progress"], capsys)
    assert code == 0, err
    assert "test accuracy" in out
    code, out, err = run(["predict", model_file, 0, 1, "--backend", name, "--data-dir",
                          directory], capsys)
    assert code == 0, err
    assert len(out.splitlines()) == 2


def test_a_library_with_every_pass_trains(library, fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    name = library("fulllibrary", kernels.ALL_PASSES)
    code, out, err = run(["train", *TINY, "--backend", name, "--data-dir", directory,
                          "--save", tmp_path / "lib.npz"], capsys)
    assert code == 0, err
    assert f"with backend {name} on 64 images" in out


@pytest.mark.frameworks
@pytest.mark.skipif("jax" not in kernels.available(), reason="jax is not installed")
def test_jax_is_a_backend_choice(capsys):
    """A framework backend, once installed, is offered by every command."""
    for command in (["train"], ["evaluate", "m.npz"], ["predict", "m.npz", "0"]):
        code, out, _ = run([*command, "--help"], capsys)
        assert code == 0 and "jax" in out, command
