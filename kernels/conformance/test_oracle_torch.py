"""Oracle: PyTorch, for every backend (naive included), when torch is installed.

PyTorch's conv2d / max_pool2d / avg_pool2d with autograd, whose semantics the contract copies,
shares no code with the package. Comparisons use the bound of the backend's error model
(`compare`; the rounding bound K * eps(dtype) * sum|terms| for a plain sum), with the scale
computed by PyTorch on absolute values. Without torch these tests are skipped.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given

from kernels.conformance import record
from kernels.conformance.bounds import DTYPE_IDS, DTYPES, as_pair, assert_within_rounding
from kernels.conformance.checks import (OUT_OF_RANGE, asked_only, backward, backward_asks,
                                        conv_inputs, declared_reason, pool_input)
from kernels.conformance.compare import assert_conv_close, computed_by, error_model
from kernels.conformance.strategies import conv_configs, pool_configs

CATEGORY = "oracles"


def _t(torch, a, dtype, grad=True):
    if a is None:
        return None
    return torch.from_numpy(np.array(a, dtype=dtype)).requires_grad_(grad)


def torch_conv(torch, x, w, b, dy, params, dtype):
    """PyTorch conv2d forward and autograd backward in `dtype`, as float64 numpy arrays."""
    tx, tw, tb = (_t(torch, a, dtype) for a in (x, w, b))
    with warnings.catch_warnings():  # 'same' with an even kernel: a note about a copy
        warnings.simplefilter("ignore", UserWarning)
        y = torch.nn.functional.conv2d(tx, tw, tb, **params)
    grads = torch.autograd.grad(y, [t for t in (tx, tw, tb) if t is not None],
                                grad_outputs=_t(torch, dy, dtype, grad=False))
    out = [y.detach().numpy().astype(np.float64)] + [g.numpy().astype(np.float64) for g in grads]
    return out + [None] * (4 - len(out))  # db = None without a bias


def torch_pool(torch, pool, x, k, dy, params, dtype):
    """PyTorch {max,avg}_pool2d forward and backward in `dtype`, as float64 numpy arrays."""
    tx = _t(torch, x, dtype)
    y = getattr(torch.nn.functional, f"{pool}_pool2d")(tx, k, **params)
    (dx,) = torch.autograd.grad(y, [tx], grad_outputs=_t(torch, dy, dtype, grad=False))
    return y.detach().numpy().astype(np.float64), dx.numpy().astype(np.float64)


def check_conv_against_torch(torch, backend, x, w, b, dy_rng, params, skip=True):
    """Backend conv (x's dtype) vs PyTorch float64 on the same values, and for float32 inputs
    of a direct-summation algorithm also vs PyTorch float32 (both are K-term sums in float32:
    C_BOUND = 2 covers both errors). Transform algorithms are held to their own error model
    against the float64 result. Only the declared passes are compared, combined and (when
    both backward passes are declared) apart; a configuration out of the declared range is
    skipped (skip=False: noted, for property tests)."""
    dtype = x.dtype
    reason = declared_reason(backend, x, w, b, **params)
    if reason is not None:
        record.out_of_range(reason)
        if skip:
            pytest.skip(OUT_OF_RANGE + reason)
        return
    record.in_range(x.size + w.size)
    y, cache = backend.conv2d_forward(x, w, b, **params)
    dy = dy_rng.standard_normal(y.shape).astype(dtype)
    combined = (y, *backward(backend, dy, cache))
    results = [(combined, "combined")]
    if all(backward_asks(backend)):
        results.append(((y, backend.conv2d_backward(dy, cache, compute_dw=False)[0],
                         *backend.conv2d_backward(dy, cache, compute_dx=False)[1:]),
                        "apart"))
    ref = torch_conv(torch, x, w, b, dy, params, np.float64)
    scale = torch_conv(torch, *(None if a is None else np.abs(a.astype(np.float64))
                                for a in (x, w, b, dy)), params, np.float64)
    algorithm = computed_by(backend, cache)
    refs = [ref] + ([torch_conv(torch, x, w, b, dy, params, np.float32)]
                    if dtype == np.float32 and error_model(algorithm) == "direct" else [])
    for r, label in zip(refs, ("torch-f64", "torch-f32")):
        for got_all, how in results:
            assert_conv_close(algorithm, got_all, dict(values=asked_only(backend, r),
                                                       scales=scale), x, w, b, dy,
                              params, f" ({how}) vs {label}")


def check_pool_against_torch(torch, backend, pool, x, k, dy_rng, params):
    """Backend pool vs PyTorch (float64 and, for float32 input, float32). Max-pool forward is
    exact; gradients get the rounding bound with K = kh*kw (+2 for avg's division)."""
    dtype = x.dtype
    kh, kw = as_pair(k)
    y, cache = getattr(backend, f"{pool}_pool2d_forward")(x, k, **params)
    dy = dy_rng.standard_normal(y.shape).astype(dtype)
    dx = getattr(backend, f"{pool}_pool2d_backward")(dy, cache)
    x64 = x.astype(np.float64)
    ref = torch_pool(torch, pool, x64, k, dy, params, np.float64)
    y_scale = torch_pool(torch, pool, np.abs(x64), k, dy, params, np.float64)[0]
    dx_scale = torch_pool(torch, pool, x64, k, np.abs(dy.astype(np.float64)), params,
                          np.float64)[1]
    refs = [ref] + ([torch_pool(torch, pool, x, k, dy, params, np.float32)]
                    if dtype == np.float32 else [])
    K = kh * kw + (2 if pool == "avg" else 0)
    for r, label in zip(refs, ("torch-f64", "torch-f32")):
        if pool == "max":
            assert y.dtype == dtype and y.shape == r[0].shape
            np.testing.assert_array_equal(y.astype(np.float64), r[0],
                                          err_msg=f"max-pool y vs {label}")
        else:
            assert_within_rounding(y, r[0], y_scale, K, dtype, f"avg-pool y vs {label}")
        assert_within_rounding(dx, r[1], dx_scale, K, dtype, f"{pool}-pool dx vs {label}")


# id: (N, C, H, W, F, (kh, kw), params)
TORCH_CONV_CASES = {
    "k3-s1-p0": (2, 3, 6, 6, 4, (3, 3), {}),
    "k3-s2-p1": (2, 2, 7, 6, 3, (3, 3), dict(stride=2, padding=1)),
    "k3-s3": (1, 2, 9, 8, 2, (3, 3), dict(stride=3)),
    "k2x3-s1x2-p2x1": (1, 2, 6, 7, 3, (2, 3), dict(stride=(1, 2), padding=(2, 1))),
    "k3-p0x2": (2, 2, 5, 4, 2, (3, 3), dict(padding=(0, 2))),
    "same-k3": (1, 2, 5, 6, 3, (3, 3), dict(padding="same")),
    "same-k2-odd-total": (2, 2, 5, 5, 2, (2, 2), dict(padding="same")),
    "same-k4x2-d3x1": (1, 2, 8, 6, 2, (4, 2), dict(padding="same", dilation=(3, 1))),
    "valid-k1x3": (2, 2, 4, 6, 3, (1, 3), dict(padding="valid")),
    "k3x1-d2": (1, 2, 8, 5, 3, (3, 1), dict(dilation=2)),
    "k3-d3-p3": (1, 1, 6, 6, 2, (3, 3), dict(dilation=3, padding=3)),
    "k2-d2x1-s2-p1": (2, 2, 7, 6, 2, (2, 2), dict(dilation=(2, 1), stride=2, padding=1)),
    "groups2": (2, 4, 5, 5, 4, (3, 3), dict(groups=2, padding=1)),
    "groups2-F6-s2": (1, 4, 7, 6, 6, (2, 2), dict(groups=2, stride=2)),
    "depthwise-F1xC": (2, 3, 5, 5, 3, (3, 3), dict(groups=3, padding="same")),
    "depthwise-F2xC-s2": (1, 3, 7, 7, 6, (3, 3), dict(groups=3, stride=2, padding=1)),
    "k4x4-p1": (1, 2, 7, 6, 2, (4, 4), dict(padding=1)),
    "k1x1": (2, 3, 4, 5, 2, (1, 1), {}),
    "batch1-cin1": (1, 1, 6, 6, 2, (3, 3), {}),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", list(TORCH_CONV_CASES.values()), ids=list(TORCH_CONV_CASES))
def test_conv_matches_torch(torch, backend, case, bias, dtype):
    """Conv y, dx, dw, db of every backend match PyTorch conv2d + autograd."""
    N, C, H, W, F, (kh, kw), params = case
    rng = np.random.default_rng(sum(map(ord, repr((case, bias)))))
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw,
                          groups=params.get("groups", 1), bias=bias, dtype=dtype)
    check_conv_against_torch(torch, backend, x, w, b, rng, params)


# id: (N, C, H, W, kernel_size, params)
TORCH_POOL_CASES = {
    "k2": (2, 2, 6, 6, 2, {}),
    "k3-s2-overlap": (1, 3, 7, 8, 3, dict(stride=2)),
    "k3-s1-p1": (2, 2, 5, 6, 3, dict(stride=1, padding=1)),
    "k2x3-s1x2-p1": (1, 2, 6, 7, (2, 3), dict(stride=(1, 2), padding=1)),
    "k3x1-s1-p1x0": (2, 1, 6, 4, (3, 1), dict(stride=1, padding=(1, 0))),
    "k4-s1-p2": (1, 2, 5, 6, 4, dict(stride=1, padding=2)),
    "k5-s3-p2": (1, 2, 9, 8, 5, dict(stride=3, padding=2)),
    "k2-s3": (1, 2, 8, 8, 2, dict(stride=3)),
    "kernel-eq-input": (2, 2, 4, 3, (4, 3), {}),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("values", ["normal", "ties"])
@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("case", list(TORCH_POOL_CASES.values()), ids=list(TORCH_POOL_CASES))
def test_pool_matches_torch(torch, backend, case, pool, values, dtype):
    """Max/avg pool forward and backward of every backend match PyTorch; with "ties" (values in
    {0, 1, 2}) max-pool gradients must go where PyTorch sends them (first max, row-major)."""
    N, C, H, W, k, params = case
    rng = np.random.default_rng(sum(map(ord, repr((case, pool, values)))))
    x = pool_input(rng, (N, C, H, W), dtype, ints=values == "ties")
    check_pool_against_torch(torch, backend, pool, x, k, rng, params)


@given(cfg=conv_configs())
def test_conv_random_configs_match_torch(torch, backend, cfg):
    """Random valid conv2d configurations: every backend (naive included) matches PyTorch."""
    shapes, params, seed = cfg
    rng = np.random.default_rng(seed)
    x, w, b = conv_inputs(rng, **shapes)
    check_conv_against_torch(torch, backend, x, w, b, rng, params, skip=False)


@given(cfg=conv_configs(unit_stride=True))
def test_conv_random_unit_stride_configs_match_torch(torch, backend, cfg):
    """The same at stride and dilation 1, which every algorithm computes."""
    shapes, params, seed = cfg
    rng = np.random.default_rng(seed)
    x, w, b = conv_inputs(rng, **shapes)
    check_conv_against_torch(torch, backend, x, w, b, rng, params, skip=False)


@given(cfg=pool_configs())
def test_pools_random_configs_match_torch(torch, backend, cfg):
    """Random valid pool configurations: every backend matches PyTorch, max and avg."""
    x_spec, k, params, seed = cfg
    rng = np.random.default_rng(seed)
    x = pool_input(rng, **x_spec)
    check_pool_against_torch(torch, backend, "max", x, k, rng, params)
    check_pool_against_torch(torch, backend, "avg", x, k, rng, params)


# Padding must never win a max-pool window, even one whose real elements are all -inf:
# PyTorch scans only real elements and routes the gradient to the first real one.
def test_max_pool_all_minus_inf_window_routes_gradient_like_torch(torch, backend):
    """x all -inf, 2x2 windows, stride 1, padding 1: PyTorch sends each of the 9 window
    gradients to the window's first real element, so dx sums to 9 ([[4, 2], [2, 1]])."""
    x = np.full((1, 1, 2, 2), -np.inf)
    y, cache = backend.max_pool2d_forward(x, 2, stride=1, padding=1)
    dy = np.ones_like(y)
    dx = backend.max_pool2d_backward(dy, cache)
    _, dx_torch = torch_pool(torch, "max", x, 2, dy, dict(stride=1, padding=1), np.float64)
    np.testing.assert_array_equal(dx_torch[0, 0], [[4.0, 2.0], [2.0, 1.0]])  # the oracle
    np.testing.assert_array_equal(dx, dx_torch)
