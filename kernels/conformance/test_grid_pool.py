"""Grid, pooling: max and avg pooling of every backend against the naive reference.

Max-pool forward is exact (no arithmetic); gradients and avg pooling get the rounding bound
(`bounds`). Ties (inputs from {0, 1, 2}) check the gradient's routing to the first maximum in
row-major order, position by position; two hand-computed cases pin that rule down.
Pooling has no declared range: every backend computes every valid configuration.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.conformance.bounds import DTYPE_IDS, DTYPES, assert_within_rounding
from kernels.conformance.checks import check_avg_pool, check_max_pool, pool_input, seed

CATEGORY = "grid"

# id: (N, C, H, W, kernel_size, pool params)
POOL_CASES = {
    "k2-default-stride": (2, 3, 6, 6, 2, {}),
    "k3-default-stride": (2, 2, 9, 7, 3, {}),
    "k2-s1-overlap": (2, 2, 5, 6, 2, dict(stride=1)),
    "k3-s2-overlap": (1, 3, 7, 8, 3, dict(stride=2)),
    "k3-s1-p1": (2, 2, 5, 5, 3, dict(stride=1, padding=1)),
    "k2-p1": (1, 2, 5, 6, 2, dict(padding=1)),
    "k2x3-s1x2-p1": (2, 2, 6, 7, (2, 3), dict(stride=(1, 2), padding=1)),
    "k3x1-s1-p1x0": (1, 2, 6, 5, (3, 1), dict(stride=1, padding=(1, 0))),
    "k1x3-s2x1": (1, 2, 6, 6, (1, 3), dict(stride=(2, 1))),
    "k4-s1-p2": (1, 2, 6, 5, 4, dict(stride=1, padding=2)),
    "k4x2-s3x1-p2x1": (2, 1, 9, 6, (4, 2), dict(stride=(3, 1), padding=(2, 1))),
    "k5-s3-p2": (1, 2, 9, 8, 5, dict(stride=3, padding=2)),
    "k1-s2": (1, 2, 5, 6, 1, dict(stride=2)),
    "kernel-eq-input": (2, 2, 4, 3, (4, 3), {}),
    "stride-gt-kernel": (1, 2, 9, 9, 2, dict(stride=3)),
    "batch1-cin1": (1, 1, 6, 6, 3, dict(stride=1, padding=1)),
    "pair-args-as-lists": (1, 2, 7, 6, [3, 2], dict(stride=[2, 1], padding=[1, 0])),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", list(POOL_CASES.values()), ids=list(POOL_CASES))
def test_max_pool_matches_naive(candidate, case, dtype):
    """Max-pool forward equals naive exactly; backward is within the rounding bound."""
    N, C, H, W, k, params = case
    rng = np.random.default_rng(seed("max", case))
    check_max_pool(candidate, pool_input(rng, (N, C, H, W), dtype), k, rng=rng, **params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", list(POOL_CASES.values()), ids=list(POOL_CASES))
def test_max_pool_ties_match_naive(candidate, case, dtype):
    """Inputs from {0, 1, 2}: most windows hold tied maxima, so the gradient routing (first
    maximum in row-major window order) must agree with naive position by position."""
    N, C, H, W, k, params = case
    rng = np.random.default_rng(seed("ties", case))
    x = pool_input(rng, (N, C, H, W), dtype, ints=True)
    check_max_pool(candidate, x, k, rng=rng, **params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", list(POOL_CASES.values()), ids=list(POOL_CASES))
def test_avg_pool_matches_naive(candidate, case, dtype):
    """Avg-pool forward and backward are within the rounding bound of naive float64."""
    N, C, H, W, k, params = case
    rng = np.random.default_rng(seed("avg", case))
    check_avg_pool(candidate, pool_input(rng, (N, C, H, W), dtype), k, rng=rng, **params)


# ------------------------------------------------------------------ tie-breaking, by hand

def test_max_pool_tie_goes_to_first_max_in_row_major_order(backend):
    """Hand-computed 3x3 input, 2x2 windows, stride 1, every window tied:

        x = 1 3 3      window (0,0): 1 3 / 3 0 -> first 3 at x[0,1]
            3 0 2      window (0,1): 3 3 / 0 2 -> first 3 at x[0,1]
            1 3 3      window (1,0): 3 0 / 1 3 -> first 3 at x[1,0]
                       window (1,1): 0 2 / 3 3 -> first 3 at x[2,1]

    dy = [[1, 10], [100, 1000]] (powers of ten expose any misrouting): dx[0,1] = 1 + 10,
    dx[1,0] = 100, dx[2,1] = 1000, zero elsewhere, exactly.
    """
    x = np.array([[1, 3, 3], [3, 0, 2], [1, 3, 3]], dtype=np.float64)[None, None]
    dy = np.array([[1, 10], [100, 1000]], dtype=np.float64)[None, None]
    y, cache = backend.max_pool2d_forward(x, 2, stride=1)
    np.testing.assert_array_equal(y, np.full((1, 1, 2, 2), 3.0), strict=True)
    dx = backend.max_pool2d_backward(dy, cache)
    expected = np.array([[0, 11, 0], [100, 0, 0], [0, 1000, 0]], dtype=np.float64)[None, None]
    np.testing.assert_array_equal(dx, expected, strict=True)


def test_max_pool_tie_with_padding_never_routes_to_padding(backend):
    """Constant input with padding: every window's first real element wins (padding is -inf),
    so the gradient is conserved: sum(dx) == sum(dy), and lands where row-major order says."""
    x = np.full((1, 1, 2, 2), 5.0, dtype=np.float32)
    y, cache = backend.max_pool2d_forward(x, 2, stride=1, padding=1)
    np.testing.assert_array_equal(y, np.full((1, 1, 3, 3), 5.0, dtype=np.float32), strict=True)
    dy = (10.0 ** np.arange(9, dtype=np.float32) / 1e4).reshape(1, 1, 3, 3)
    dx = backend.max_pool2d_backward(dy, cache)
    # Window (i, j) covers padded rows i..i+1, cols j..j+1; its first real element is
    # x[max(i-1, 0), max(j-1, 0)].
    expected = np.zeros((2, 2), dtype=np.float64)
    for i in range(3):
        for j in range(3):
            expected[max(i - 1, 0), max(j - 1, 0)] += dy[0, 0, i, j]
    # Up to 4 dy values land on one element: K = 4 terms, all positive (scale = expected).
    assert_within_rounding(dx[0, 0], expected, expected, 4, np.float32, "max-pool dx")
    np.testing.assert_allclose(dx.sum(dtype=np.float64), dy.sum(dtype=np.float64), rtol=1e-6)
