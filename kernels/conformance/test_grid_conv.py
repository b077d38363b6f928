"""Grid, convolution: every backend computes what the naive reference computes.

Each case runs conv forward and the backend's declared backward passes (y, dx, dw, db) on one
backend and checks them against the naive backend in float64 with the bound of the backend's
error model (`compare`; for a plain sum K * eps(dtype) * sum|terms|, derived from dtype and
reduction length). Uses `candidate` (every backend but naive: naive against itself would
prove nothing). A case out of the backend's declared range is skipped, once the backend has
refused it with its reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.conformance.bounds import DTYPE_IDS, DTYPES
from kernels.conformance.checks import (backward, backward_asks, check_conv, conv_inputs,
                                        first_in_range, seed)
from kernels.conformance.compare import error_model, naive

CATEGORY = "grid"

# id: (N, C, H, W, F, (kh, kw), conv params)
CONV_CASES = {
    "k3-s1-p0": (2, 3, 7, 6, 4, (3, 3), {}),
    "k3-s2-p1": (2, 3, 7, 8, 4, (3, 3), dict(stride=2, padding=1)),
    "k3-s3-p1": (1, 2, 9, 8, 3, (3, 3), dict(stride=3, padding=1)),
    "k3-s1x2": (2, 2, 6, 9, 3, (3, 3), dict(stride=(1, 2))),
    "k3-s2x1-p1x0": (1, 2, 8, 6, 2, (3, 3), dict(stride=(2, 1), padding=(1, 0))),
    "k3-p0x2": (1, 2, 5, 4, 3, (3, 3), dict(padding=(0, 2))),
    "k3-p2x1": (2, 2, 4, 5, 3, (3, 3), dict(padding=(2, 1))),
    "k3-same": (2, 2, 6, 5, 3, (3, 3), dict(padding="same")),
    "k2-same-odd-total": (2, 2, 5, 6, 3, (2, 2), dict(padding="same")),
    "k4-same-odd-total": (1, 2, 6, 7, 2, (4, 4), dict(padding="same")),
    "k2x3-same-d2": (1, 2, 6, 6, 2, (2, 3), dict(padding="same", dilation=2)),
    "k2-same-d3-odd-total": (1, 2, 7, 6, 2, (2, 2), dict(padding="same", dilation=3)),
    "k3-valid": (2, 2, 6, 7, 3, (3, 3), dict(padding="valid")),
    "k3-d2": (1, 2, 8, 9, 3, (3, 3), dict(dilation=2)),
    "k3-d3-p2": (1, 2, 8, 8, 2, (3, 3), dict(dilation=3, padding=2)),
    "k3-d2x1": (2, 2, 8, 6, 2, (3, 3), dict(dilation=(2, 1))),
    "k2-d2-s2-p1": (2, 2, 7, 7, 3, (2, 2), dict(dilation=2, stride=2, padding=1)),
    "groups2": (2, 4, 6, 6, 4, (3, 3), dict(groups=2, padding=1)),
    "groups2-F6": (1, 4, 6, 5, 6, (3, 3), dict(groups=2)),
    "depthwise-F1xC": (2, 3, 6, 6, 3, (3, 3), dict(groups=3, padding=1)),
    "depthwise-F2xC": (1, 3, 6, 6, 6, (3, 3), dict(groups=3, stride=2, padding=1)),
    "k1x3": (2, 2, 5, 6, 3, (1, 3), dict(padding=(0, 1))),
    "k3x1": (2, 2, 6, 5, 3, (3, 1), {}),
    "k2x3": (1, 3, 6, 7, 2, (2, 3), dict(stride=(2, 1))),
    "k2x2": (2, 2, 6, 6, 3, (2, 2), dict(stride=2)),
    "k4x4": (1, 2, 8, 7, 2, (4, 4), dict(padding=1)),
    "k1x1": (2, 4, 5, 5, 3, (1, 1), {}),
    "k1x1-s2": (1, 3, 6, 5, 2, (1, 1), dict(stride=2)),
    "batch1": (1, 3, 6, 6, 4, (3, 3), dict(padding=1)),
    "cin1": (2, 1, 6, 6, 3, (3, 3), {}),
    "cout1": (2, 3, 6, 6, 1, (3, 3), {}),
    "kernel-eq-input": (2, 2, 3, 4, 2, (3, 4), {}),
    "1x1-output-padded": (1, 2, 1, 1, 2, (3, 3), dict(padding=1)),
    "combo-s2-p1x2-d2x1-g2": (2, 4, 8, 7, 4, (2, 3),
                              dict(stride=2, padding=(1, 2), dilation=(2, 1), groups=2)),
    "pair-args-as-lists": (1, 2, 7, 7, 2, (3, 2),
                           dict(stride=[2, 1], padding=[1, 0], dilation=[1, 2])),
    # Sizes that are not multiples of a vector register's lanes (8 or 16) or of a register
    # tile's pixels: a kernel that blocks channels, widths or the batch must handle the
    # partial block after full ones (the blocked backend's remainders).
    "blocks-C17-F19-W13-N3": (3, 17, 5, 13, 19, (3, 3), dict(padding=1)),
    "blocks-groups2-Cg17-Fg19": (2, 34, 5, 9, 38, (3, 3), dict(groups=2, stride=2, padding=1)),
    "blocks-depthwise-C18": (2, 18, 6, 11, 18, (3, 3), dict(groups=18, padding=1)),
    "blocks-W17-k5": (1, 3, 5, 17, 5, (5, 5), dict(padding=2)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", list(CONV_CASES.values()), ids=list(CONV_CASES))
def test_conv_matches_naive(candidate, case, bias, dtype):
    """Conv y, dx, dw, db of the backend are within the rounding bound of naive float64."""
    N, C, H, W, F, (kh, kw), params = case
    rng = np.random.default_rng(seed(case, bias))
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw,
                          groups=params.get("groups", 1), bias=bias, dtype=dtype)
    check_conv(candidate, x, w, b, rng=rng, **params)


# Integer data: every option exercises strides, padding and dilation unequal per axis; the
# first the backend computes is used (groups=2 only where the backend declares it).
EXACT_OPTIONS = [dict(stride=(1, 2), padding=(2, 1), dilation=(1, 2), groups=2),
                 dict(stride=(1, 2), padding=(2, 1), dilation=(1, 2)),
                 dict(padding=(2, 1)), {}]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv_integer_valued_data_is_exact(candidate, dtype):
    """With small-integer data every partial sum is exact, so any correct summation order gives
    the naive result bit for bit (the rounding bound is not needed). Transform algorithms
    multiply by non-dyadic constants (Winograd's G, FFT twiddles): their own tests cover what
    is exact for them."""
    if error_model(candidate) != "direct":
        pytest.skip(f"{candidate.name} rounds even on integers (ERROR_MODEL "
                    f"{error_model(candidate)!r})")
    options = []
    for params in EXACT_OPTIONS:
        rng = np.random.default_rng(7)
        x, w, b = conv_inputs(rng, N=2, C=4, H=7, W=6, F=4, kh=3, kw=2,
                              groups=params.get("groups", 1), dtype=dtype, ints=True)
        options.append((x, w, b, params, rng))
    x, w, b, params, rng = first_in_range(candidate, options)
    reference = naive()
    y_ref, cache_ref = reference.conv2d_forward(x, w, b, **params)
    dy = rng.integers(-3, 4, size=y_ref.shape).astype(dtype)
    ref = reference.conv2d_backward(dy, cache_ref)
    y, cache = candidate.conv2d_forward(x, w, b, **params)
    got = backward(candidate, dy, cache)
    np.testing.assert_array_equal(y, y_ref, strict=True)
    compute_dx, compute_dw = backward_asks(candidate)
    for name, g, r, asked in zip(("dx", "dw", "db"), got, ref, (compute_dx, compute_dw,
                                                               compute_dw)):
        if asked:
            np.testing.assert_array_equal(g, r, err_msg=name, strict=True)
