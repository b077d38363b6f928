"""Finite-difference gradient checks of the NAIVE backend (float64).

The naive backward is the reference for every other backend's backward, so it must itself be
checked against something that does not share its derivation: central differences of the
scalar loss L = sum(y * r) for a fixed random projection r, whose gradient is exactly what
backward(dy=r) must return.

Step and tolerance. The central difference (L(t + h) - L(t - h)) / 2h has truncation error
O(h^2 * L''') - zero here, because along any single coordinate L is affine (conv is linear in
x for fixed w, linear in w for fixed x, affine in b; average pooling is linear; max pooling is
linear as long as no window changes its argmax). What remains is rounding: L is a float64
sum of S = sum|terms| magnitude, each evaluation is off by about eps * S, so the quotient is
off by about eps * S / h = 2.2e-16 * S / 1e-6 ~ 2e-10 * S. With h = 1e-6 that is ~1e-9 for
these O(1)..O(10) sums; the tolerance 1e-6 * max|grad| (+1e-6 * |grad| elementwise) sits three
orders above that, and orders below the effect of any real mistake (a wrong tap, a missing or
doubled term changes an entry by O(|r| * |w|) ~ 0.1..1). For max pooling, the input values
are distinct and separated by >= 1e-2 (a shuffled grid), far more than 2h, so no perturbation
changes an argmax and the loss stays linear around the point.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from cnn_helpers import RTOL, all_indices, central_difference

NAIVE = kernels.get_backend("naive")


def numerical_grad(loss, arr):
    """Central differences of loss() w.r.t. every element of arr (perturbed in place)."""
    return central_difference(loss, arr, all_indices(arr)).reshape(arr.shape)


def assert_grad_close(analytic, numeric, what):
    """|analytic - numeric| <= RTOL * (|numeric| + max|numeric|), see the module docstring."""
    assert analytic.shape == numeric.shape, what
    atol = RTOL * max(np.abs(numeric).max(), 1.0)
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=atol, err_msg=what)
    # The check must not be vacuous: some gradient entries are far from zero.
    assert np.abs(numeric).max() > 1e-2, f"{what}: degenerate test, gradient ~ 0"


CONV_CASES = {
    "plain": (2, 2, 5, 5, 3, (3, 3), {}),
    "stride2-pad1": (1, 2, 6, 5, 2, (3, 3), dict(stride=2, padding=1)),
    "stride1x2-pad2x0": (1, 2, 5, 6, 2, (2, 3), dict(stride=(1, 2), padding=(2, 0))),
    "same-even-kernel": (1, 2, 5, 4, 2, (2, 2), dict(padding="same")),
    "same-dilation3": (1, 1, 6, 6, 2, (2, 3), dict(padding="same", dilation=3)),
    "dilation2x1-pad1": (1, 2, 6, 5, 2, (3, 2), dict(dilation=(2, 1), padding=1)),
    "groups2": (2, 4, 4, 4, 4, (3, 3), dict(groups=2, padding=1)),
    "depthwise-F2xC": (1, 3, 4, 5, 6, (2, 2), dict(groups=3, stride=(2, 1))),
    "k1x1": (2, 3, 3, 4, 2, (1, 1), {}),
}


@pytest.mark.parametrize("case", list(CONV_CASES.values()), ids=list(CONV_CASES))
def test_naive_conv_gradient_matches_finite_differences(case):
    """naive conv2d_backward(r) equals the central-difference gradient of sum(y * r) w.r.t.
    x, w and b."""
    N, C, H, W, F, (kh, kw), params = case
    rng = np.random.default_rng(sum(map(ord, repr(case))))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C // params.get("groups", 1), kh, kw))
    b = rng.standard_normal(F)
    y, cache = NAIVE.conv2d_forward(x, w, b, **params)
    r = rng.standard_normal(y.shape)
    dx, dw, db = NAIVE.conv2d_backward(r, cache)

    def loss():
        return float(np.sum(NAIVE.conv2d_forward(x, w, b, **params)[0] * r))

    assert_grad_close(dx, numerical_grad(loss, x), "dx")
    assert_grad_close(dw, numerical_grad(loss, w), "dw")
    assert_grad_close(db, numerical_grad(loss, b), "db")


POOL_CASES = {
    "k2-default-stride": (2, 2, 4, 6, 2, {}),
    "k3-s1-overlap-pad1": (1, 2, 5, 5, 3, dict(stride=1, padding=1)),
    "k2x3-s1x2-pad1": (1, 2, 5, 6, (2, 3), dict(stride=(1, 2), padding=(1, 1))),
    "k3x1-s2": (2, 1, 7, 4, (3, 1), dict(stride=2)),
    "k4-s3-pad2": (1, 1, 7, 7, 4, dict(stride=3, padding=2)),
}


def _distinct_values(rng, shape):
    """A shuffled grid of distinct values 0.01 apart, centred on 0: no near-ties."""
    n = int(np.prod(shape))
    values = (np.arange(n) - n / 2) * 0.01
    return rng.permutation(values).reshape(shape)


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("case", list(POOL_CASES.values()), ids=list(POOL_CASES))
def test_naive_pool_gradient_matches_finite_differences(case, pool):
    """naive {max,avg}_pool2d_backward(r) equals the central-difference gradient of
    sum(y * r) w.r.t. x."""
    N, C, H, W, k, params = case
    rng = np.random.default_rng(sum(map(ord, repr((case, pool)))))
    x = _distinct_values(rng, (N, C, H, W))
    forward = getattr(NAIVE, f"{pool}_pool2d_forward")
    y, cache = forward(x, k, **params)
    r = rng.standard_normal(y.shape)
    dx = getattr(NAIVE, f"{pool}_pool2d_backward")(r, cache)

    def loss():
        return float(np.sum(forward(x, k, **params)[0] * r))

    assert_grad_close(dx, numerical_grad(loss, x), f"{pool}-pool dx")
