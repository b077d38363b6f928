"""The frameworks' backends (kernels/backends/libraries): what the conformance suite cannot see.

The suite checks every registered framework against the naive reference like any backend;
these tests check what is specific to wrapping one: each backward pass asks the framework
for its gradient only, compiled programs and sessions are reused per geometry, the forward-
only backend has no backward, the registry lists them as libraries, and versions() names
what they compute with. Each framework's tests are skipped when its package is missing.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

import kernels
from kernels import plugins
from kernels.conformance.checks import check_conv
from kernels.plugins import FRAMEWORKS
from kernels.shapes import conv2d_geometry

# Every test here needs its framework (CI runs them with `pytest -m frameworks`).
pytestmark = pytest.mark.frameworks


def _library(name):
    pytest.importorskip(FRAMEWORKS[name][1])
    entry = plugins.find(name)  # installed but not whole (onnxruntime without onnx)
    if entry.problem is not None:
        pytest.skip(entry.problem)
    return importlib.import_module(FRAMEWORKS[name][0])


def _arrays(dtype=np.float32, C=4, F=6, groups=1):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, C, 7, 6)).astype(dtype)
    w = rng.standard_normal((F, C // groups, 3, 3)).astype(dtype)
    return x, w, rng.standard_normal(F).astype(dtype)


@pytest.mark.parametrize("name", list(FRAMEWORKS))
def test_a_framework_is_a_library_never_ours(name):
    _library(name)
    assert name in kernels.available(kernels.LIBRARY)
    assert not kernels.is_ours(name) and kernels.origin(name) == "framework"
    # torch pools with its own kernels, the report's PyTorch row of a pool case
    assert kernels.capabilities(name).pooling_from == (None if name == "torch" else "numba")


@pytest.mark.parametrize("name, packages", [
    ("torch", {"torch", "onednn"}), ("jax", {"jax", "jaxlib"}),
    ("tensorflow", {"tensorflow"}), ("onnxruntime", {"onnxruntime", "onnx"})])
def test_versions_name_the_framework_and_its_threads(name, packages):
    if name not in FRAMEWORKS:
        pytest.skip(f"{name} is not registered")
    module = _library(name)
    found = module.versions()
    assert packages <= set(found), found
    assert found[name] == importlib.import_module(name).__version__
    assert isinstance(found["threads"], int) and found["threads"] >= 1, found


@pytest.mark.parametrize("compute_dx, compute_dw", [(True, False), (False, True)])
def test_torch_asks_the_native_backward_for_one_gradient(compute_dx, compute_dw, monkeypatch):
    module = _library("torch")
    masks = []
    native = module.convolution_backward

    def spy(*args):
        masks.append(list(args[-1]))
        return native(*args)
    monkeypatch.setattr(module, "convolution_backward", spy)
    x, w, b = _arrays()
    y, cache = module.conv2d_forward(x, w, b, padding=1)
    dx, dw, db = module.conv2d_backward(np.ones_like(y), cache, compute_dx=compute_dx,
                                        compute_dw=compute_dw)
    assert masks == [[compute_dx, compute_dw, compute_dw]]
    assert (dx is not None, dw is not None, db is not None) == (compute_dx, compute_dw,
                                                                 compute_dw)


@pytest.mark.parametrize("op", ["max", "avg"])
def test_torch_pools_with_the_kernels_autograd_calls(op, monkeypatch):
    """A pool's backward is torch's own kernel, the one autograd calls, given the forward's
    geometry; its numbers are the conformance suite's business."""
    module = _library("torch")
    called = []
    native = getattr(module, f"{op}_pool2d_backward_kernel")

    def spy(*args):
        called.append(args[2:5])  # kernel_size, stride, padding
        return native(*args)
    monkeypatch.setattr(module, f"{op}_pool2d_backward_kernel", spy)
    x, _, _ = _arrays()
    y, cache = getattr(module, f"{op}_pool2d_forward")(x, 3, stride=2, padding=1)
    dx = getattr(module, f"{op}_pool2d_backward")(np.ones_like(y), cache)
    assert called == [([3, 3], [2, 2], [1, 1])]
    assert y.shape == (2, 4, 4, 3) and dx.shape == x.shape and dx.dtype == x.dtype


def test_torch_pads_unequal_sides_itself_without_a_warning():
    """'same' with an even kernel pads one more row/column bottom/right; torch's own
    padding='same' warns there (and copies anyway), so the wrapper pads and crops dx."""
    module = _library("torch")
    x, w, b = _arrays()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_conv(module, x, w[:, :, :2, :2].copy(), b, padding="same")


def test_jax_compiles_each_pass_once_per_geometry_and_only_when_asked(monkeypatch):
    module = _library("jax")
    compiled = []
    real = module._compile
    monkeypatch.setattr(module, "_compile",
                        lambda geo, which: compiled.append(which) or real(geo, which))
    monkeypatch.setattr(module, "COMPILED", type(module.COMPILED)())
    x, w, b = _arrays(groups=2)
    params = dict(padding=(1, 2), stride=(2, 1), groups=2)
    y, cache = module.conv2d_forward(x, w, b, **params)
    dx, dw, db = module.conv2d_backward(np.ones_like(y), cache, compute_dw=False)
    assert compiled == ["forward", "backward-data"] and dw is None and db is None
    dx, dw, db = module.conv2d_backward(np.ones_like(y), cache, compute_dx=False)
    assert compiled == ["forward", "backward-data", "backward-weights"] and dx is None
    for _ in range(2):  # same geometry, new arrays: nothing compiled again
        y, cache = module.conv2d_forward(x + 1, w, b, **params)
        module.conv2d_backward(np.ones_like(y), cache)
    assert len(compiled) == 3
    module.conv2d_forward(x[:1], w, b, **params)  # another batch size: another program
    assert compiled[3:] == ["forward"] and len(module.COMPILED) == 2
    monkeypatch.setattr(module, "MAX_GEOMETRIES", 2)
    module.conv2d_forward(x[:, :, :5], w, b, **params)  # a third geometry evicts the oldest
    assert len(module.COMPILED) == 2 and cache[-1] not in module.COMPILED


def test_jax_float64_is_computed_in_float64():
    """jax_enable_x64 is on: a float64 result carries float64's precision (float32 could
    not hold 1 + 2**-40)."""
    module = _library("jax")
    x = np.full((1, 1, 1, 1), 1 + 2.0**-40)
    y, _ = module.conv2d_forward(x, np.ones((1, 1, 1, 1)))
    assert y.dtype == np.float64 and y[0, 0, 0, 0] == 1 + 2.0**-40


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jax_multiplies_the_padding_as_the_definition_does(dtype):
    """XLA's float64 conv skips the padding taps: an inf weight over padding alone gave 0
    where 0 * inf is NaN (the wrapper pads explicitly in float64)."""
    module = _library("jax")
    x = np.ones((1, 1, 3, 3), dtype)
    w = np.zeros((1, 1, 3, 3), dtype)
    w[0, 0, 0, 0] = np.inf
    y, _ = module.conv2d_forward(x, w, padding=1)
    expected = np.full((3, 3), np.inf)
    expected[0, :] = expected[:, 0] = np.nan
    np.testing.assert_array_equal(y[0, 0], expected)


@pytest.mark.parametrize("skipped, op", [("dx", "Conv2DBackpropInput"),
                                         ("dw", "Conv2DBackpropFilter")])
def test_tensorflow_runs_only_the_backprop_op_asked_for(skipped, op, monkeypatch):
    module = _library("tensorflow")

    def refuse(**kwargs):
        raise AssertionError(f"{op} ran although {skipped} was not asked for")
    x, w, b = _arrays()
    y, cache = module.conv2d_forward(x, w, b, padding=1, stride=2)
    monkeypatch.setattr(module.tf.raw_ops, op, refuse)
    got = module.conv2d_backward(np.ones_like(y), cache, compute_dx=skipped != "dx",
                                 compute_dw=skipped != "dw")
    assert (got[0] is None) == (skipped == "dx") and (got[1] is None) == (skipped == "dw")


@pytest.mark.parametrize("params, reason", [(dict(dilation=2), "dilation > 1"),
                                            (dict(groups=2), "groups > 1")])
def test_tensorflow_refuses_what_its_float64_backprop_cannot_do(params, reason):
    module = _library("tensorflow")
    x, w, b = _arrays(np.float64, groups=params.get("groups", 1))
    assert reason in module.unsupported(conv2d_geometry(x, w, b, **params))
    with pytest.raises(ValueError, match=reason):
        module.conv2d_forward(x, w, b, **params)
    x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
    assert module.unsupported(conv2d_geometry(x32, w32, b32, **params)) is None


def test_onnxruntime_is_forward_only():
    module = _library("onnxruntime")
    assert kernels.passes(module) == (kernels.FORWARD,)
    x, w, b = _arrays(np.float64)
    with pytest.raises(ValueError, match="float32 only"):
        module.conv2d_forward(x, w, b)
    y, cache = module.conv2d_forward(*(a.astype(np.float32) for a in (x, w, b)))
    with pytest.raises(NotImplementedError, match="forward pass only"):
        module.conv2d_backward(np.ones_like(y), cache)


def test_onnxruntime_reuses_a_session_until_the_weights_change(monkeypatch):
    module = _library("onnxruntime")
    monkeypatch.setattr(module, "SESSIONS", type(module.SESSIONS)())
    x, w, b = _arrays()
    y1, _ = module.conv2d_forward(x, w, b, padding=1)
    first = next(iter(module.SESSIONS.values()))
    assert first.build_seconds > 0
    module.conv2d_forward(x + 1, w, b, padding=1)
    assert list(module.SESSIONS.values()) == [first]  # same geometry and weights: reused
    w[0, 0, 0, 0] += 1  # changed in place: same identity, new constants
    y2, _ = module.conv2d_forward(x, w, b, padding=1)
    assert next(iter(module.SESSIONS.values())) is not first
    check_conv(module, x, w, b, padding=1)  # the new weights are the ones used
    assert not np.array_equal(y1, y2)


def test_tinygrad_is_not_registered_and_the_reason_is_written_down():
    import kernels.backends.libraries as libraries
    assert "tinygrad" not in FRAMEWORKS
    assert "tinygrad" in libraries.__doc__ and "clang" in libraries.__doc__
