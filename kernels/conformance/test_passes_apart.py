"""The three passes apart: forward, backward-data (dx) and backward-weights (dw, db) are
separate passes, and a pass that is not asked for is not returned.

For any backend: a backward pass asked for alone returns None for the other and its own
results within the rounding bound of naive float64; both flags False returns three Nones.
For a backend that computes both: each pass alone is bit for bit what the combined call
computes (same operations, same order) - a house convention (`conventions`): a plug-in whose
single-pass results differ within the rounding bound is noted, not failed. That the skipped
pass does no work is checked by spying on our own backends' code
(tests/test_kernels/test_skipped_passes.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from kernels.conformance import conventions
from kernels.conformance.checks import (backward_asks, conv_inputs, require_backward,
                                        require_in_range, require_passes, seed)
from kernels.conformance.compare import assert_conv_close, computed_by, conv_reference
from kernels.conformance.test_grid_conv import CONV_CASES

CATEGORY = "passes apart"

SPLIT_CASES = {k: CONV_CASES[k] for k in ("k3-s1-p0", "k3-s2-p1", "k3-d2", "groups2",
                                          "depthwise-F2xC", "k1x1", "k2-same-odd-total")}


def _case(backend, case, bias, dtype=np.float32):
    N, C, H, W, F, (kh, kw), params = case
    rng = np.random.default_rng(seed("split", case, bias))
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw,
                          groups=params.get("groups", 1), bias=bias, dtype=dtype)
    require_in_range(backend, x, w, b, **params)
    return rng, x, w, b, params


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", list(SPLIT_CASES.values()), ids=list(SPLIT_CASES))
def test_backward_passes_apart_equal_the_combined_call(backend, case, bias):
    """compute_dx=False returns dx None, compute_dw=False returns dw and db None, and what is
    computed is bit for bit what the combined call computes (same operations, same order)."""
    require_passes(backend, kernels.BACKWARD_DATA, kernels.BACKWARD_WEIGHTS)
    rng, x, w, b, params = _case(backend, case, bias)
    y, cache = backend.conv2d_forward(x, w, b, **params)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = backend.conv2d_backward(dy, cache)
    only_dx = backend.conv2d_backward(dy, cache, compute_dw=False)
    only_dw = backend.conv2d_backward(dy, cache, compute_dx=False)
    assert only_dx[1] is None and only_dx[2] is None and only_dw[0] is None
    if not bias:
        assert only_dw[2] is None
    # Each alone is checked against naive by the next test: bit for bit is a convention.
    differ = [name for name, alone, combined in (("dx", only_dx[0], dx), ("dw", only_dw[1], dw),
                                                  ("db", only_dw[2], db))
              if (alone is not None or combined is not None) and not _identical(alone, combined)]
    if differ:
        conventions.breach(conventions.PASSES_BITWISE, conventions.PASSES_HELPER,
                           f"{', '.join(differ)} asked for alone differ from the combined call's")


def _identical(a, b) -> bool:
    """Same type, dtype, shape and bits (NaN equal to NaN)."""
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype \
        and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", list(SPLIT_CASES.values()), ids=list(SPLIT_CASES))
def test_each_backward_pass_alone_matches_naive(backend, case, bias):
    """Each declared backward pass asked for alone: the other pass's results are None, its own
    within the rounding bound of naive float64 (of the algorithm's error model); neither
    asked for: (None, None, None)."""
    require_backward(backend)
    rng, x, w, b, params = _case(backend, case, bias)
    y_ref, y_scale, ref_backward = conv_reference(x, w, b, **params)
    y, cache = backend.conv2d_forward(x, w, b, **params)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx_ref, dw_ref, db_ref, sdx, sdw, sdb = ref_backward(dy)
    compute_dx, compute_dw = backward_asks(backend)
    algorithm = computed_by(backend, cache)
    if compute_dx:
        dx, dw, db = backend.conv2d_backward(dy, cache, compute_dw=False)
        assert dw is None and db is None, "compute_dw=False returned dw or db"
        assert_conv_close(algorithm, (y, dx, None, None),
                          dict(values=(y_ref, dx_ref, None, None),
                               scales=(y_scale, sdx, None, None)),
                          x, w, b, dy, params, " (dx alone)")
    if compute_dw:
        dx, dw, db = backend.conv2d_backward(dy, cache, compute_dx=False)
        assert dx is None, "compute_dx=False returned dx"
        assert_conv_close(algorithm, (y, None, dw, db),
                          dict(values=(y_ref, None, dw_ref, db_ref),
                               scales=(y_scale, None, sdw, sdb)), x, w, b, dy, params,
                          " (dw alone)")
    assert backend.conv2d_backward(dy, cache, compute_dx=False, compute_dw=False) == \
        (None, None, None)
