"""A pass that is not asked for is not computed: backward-data (dx) and backward-weights
(dw, db) are separate, and the CNN never asks for its first layer's dx (PyTorch does not
compute it either). Checked by spying on the code that would do the work."""

from __future__ import annotations

import numpy as np
import pytest

import kernels
import kernels.backends.blocked as blocked
import kernels.backends.fft as fft
import kernels.backends.im2col as im2col
import kernels.backends.numba.conv as numba_conv
import kernels.backends.strided as strided
import kernels.backends.winograd as winograd
from cnn.model import build_model


def _fail(what):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{what} ran although it was not asked for")
    return refuse


def _refuse(monkeypatch, module, path, name):
    """Make module.path (or module.Class.method) raise if called."""
    owner, attr = module, path
    if "." in path:
        cls, attr = path.split(".")
        owner = getattr(module, cls)
    getattr(owner, attr)  # a renamed function must fail the test, not pass it silently
    monkeypatch.setattr(owner, attr, _fail(f"{name}: {path}"))


def _arrays(stride=1):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    return x, w, rng.standard_normal(4).astype(np.float32)


# backend -> (module, what computes dx, what computes dw) in that backend
SPIES = {
    "im2col": (im2col, ["col2im"], []),
    "strided": (strided, ["_transposed_conv", "_scatter_taps"], []),
    "numba": (numba_conv, ["_backward_data_flat", "_backward_data_plain"],
              ["_backward_weights_flat", "_backward_weights_plain"]),
    "blocked": (blocked, ["backward_data.kernel", "layout.block_weights_transposed"],
                ["backward_weights.kernel", "backward_weights.reduce_partials"]),
    # Transform algorithms: the inverse transform onto dx, and the filter-side adjoint.
    "winograd2x2": (winograd, ["scatter_tiles"], ["_filter_gradient", "Winograd._input_tiles"]),
    "winograd4x4": (winograd, ["scatter_tiles"], ["_filter_gradient", "Winograd._input_tiles"]),
    "fft": (fft, ["_irfft2"], ["_weight_taps", "_input_spectrum"]),
}
STRIDE_1_ONLY = {"winograd2x2", "winograd4x4"}


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", list(SPIES))
def test_skipped_pass_does_no_work(name, stride, monkeypatch):
    if stride != 1 and name in STRIDE_1_ONLY:
        pytest.skip(f"{name} computes stride 1 only")
    module, dx_work, dw_work = SPIES[name]
    backend = kernels.get_backend(name)
    x, w, b = _arrays()
    y, cache = backend.conv2d_forward(x, w, b, stride=stride, padding=1)
    dy = np.ones_like(y)
    with monkeypatch.context() as m:
        for fn in dx_work:
            _refuse(m, module, fn, name)
        dx, dw, db = backend.conv2d_backward(dy, cache, compute_dx=False)
    assert dx is None and dw is not None and db is not None
    with monkeypatch.context() as m:
        for fn in dw_work:
            _refuse(m, module, fn, name)
        if name == "im2col":  # dw needs the columns; dx does not rebuild them
            m.setattr(module, "im2col", _fail("im2col.im2col"))
        dx, dw, db = backend.conv2d_backward(dy, cache, compute_dw=False)
    assert dw is None and db is None and dx.shape == x.shape


class Recorder:
    """A backend that records the passes each conv backward was asked for."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, []

    def __getattr__(self, fn):
        return getattr(self.inner, fn)

    def conv2d_backward(self, dy, cache, *, compute_dx=True, compute_dw=True):
        result = self.inner.conv2d_backward(dy, cache, compute_dx=compute_dx,
                                            compute_dw=compute_dw)
        self.calls.append((cache[-1].C, compute_dx, compute_dw, result[0] is None))
        return result


@pytest.mark.parametrize("arch", ["convnet", "lenet5", "tiny"])
def test_the_cnn_never_asks_for_its_first_layers_input_gradient(arch):
    recorder = Recorder(kernels.get_backend("im2col"))
    model = build_model(arch, backend=recorder)
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    model.loss_and_grads(x, np.arange(4))
    first, *others = reversed(recorder.calls)  # backward runs last layer first
    assert first == (1, False, True, True)  # the first conv: one input channel, no dx
    assert all(c[1] and c[2] and not c[3] for c in others)
    model.forward(x)  # asked for, the input gradient is there (gradient checks use it)
    assert model.backward(np.ones((4, 10), np.float32), input_grad=True).shape == x.shape
