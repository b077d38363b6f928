"""No mutation: inputs are never modified, and a forward cache is not consumed by backward.

Forward and the declared backward passes of conv, and both pools, leave x, w, b and dy bit for
bit unchanged; backward called three times on one cache (dy1, dy2, dy1) matches the naive
float64 reference every time.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.conformance.bounds import DTYPE_IDS, DTYPES, assert_within_rounding
from kernels.conformance.checks import (asked_only, backward, conv_inputs, require_backward,
                                        require_in_range)
from kernels.conformance.compare import assert_conv_close, computed_by, conv_reference, naive

CATEGORY = "no mutation"


@pytest.mark.parametrize("stride", [2, 1], ids=["stride2", "stride1"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_inputs_not_modified(backend, dtype, stride):
    """Forward and backward of conv and pools leave x, w, b and dy bit-for-bit unchanged."""
    rng = np.random.default_rng(11)
    x, w, b = conv_inputs(rng, N=2, C=2, H=6, W=6, F=2, kh=3, kw=3, dtype=dtype)
    require_in_range(backend, x, w, b, padding=1, stride=stride)
    originals = {"x": x.copy(), "w": w.copy(), "b": b.copy()}
    y, cache = backend.conv2d_forward(x, w, b, padding=1, stride=stride)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dy_copy = dy.copy()
    backward(backend, dy, cache)
    for pool in ("max", "avg"):
        yp, cp = getattr(backend, f"{pool}_pool2d_forward")(x, 3, stride=1, padding=1)
        dyp = rng.standard_normal(yp.shape).astype(dtype)
        dyp_copy = dyp.copy()
        getattr(backend, f"{pool}_pool2d_backward")(dyp, cp)
        np.testing.assert_array_equal(dyp, dyp_copy, err_msg=f"{pool}-pool dy modified")
    np.testing.assert_array_equal(dy, dy_copy, err_msg="conv dy modified")
    for name, a in (("x", x), ("w", w), ("b", b)):
        np.testing.assert_array_equal(a, originals[name], err_msg=f"{name} modified")


@pytest.mark.parametrize("stride", [(2, 1), 1], ids=["stride2x1", "stride1"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_backward_twice_with_same_cache(backend, dtype, stride):
    """The cache is not consumed or corrupted: backward with dy1, then dy2, then dy1 again on
    one forward cache; every call matches the naive float64 reference for its dy."""
    rng = np.random.default_rng(5)
    x, w, b = conv_inputs(rng, N=2, C=2, H=6, W=5, F=3, kh=3, kw=2, dtype=dtype)
    params = dict(padding=1, stride=stride)
    require_backward(backend)
    require_in_range(backend, x, w, b, **params)
    y_ref, y_scale, ref_backward = conv_reference(x, w, b, **params)
    y, cache = backend.conv2d_forward(x, w, b, **params)
    dy1 = rng.standard_normal(y_ref.shape).astype(dtype)
    dy2 = rng.standard_normal(y_ref.shape).astype(dtype)
    for call, dy in enumerate((dy1, dy2, dy1)):
        dx_ref, dw_ref, db_ref, sdx, sdw, sdb = ref_backward(dy)
        wanted = asked_only(backend, (y_ref, dx_ref, dw_ref, db_ref))
        assert_conv_close(computed_by(backend, cache), (y, *backward(backend, dy, cache)),
                          dict(values=wanted, scales=(y_scale, sdx, sdw, sdb)), x, w, b, dy,
                          params, f", call {call}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_pool_backward_twice_with_same_cache(backend, dtype):
    """The same for both pools: dy1, dy2, dy1 on one forward cache."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 6, 5)).astype(dtype)
    for pool, K_pool in (("max", 4), ("avg", 4 + 2)):
        fwd = getattr(backend, f"{pool}_pool2d_forward")
        bwd = getattr(backend, f"{pool}_pool2d_backward")
        _, cache = fwd(x, 2, stride=1)
        _, cache64 = getattr(naive(), f"{pool}_pool2d_forward")(x.astype(np.float64), 2,
                                                                stride=1)
        ref_bwd = getattr(naive(), f"{pool}_pool2d_backward")
        dy1 = rng.standard_normal(cache64[-1].y_shape).astype(dtype)
        dy2 = rng.standard_normal(cache64[-1].y_shape).astype(dtype)
        for call, dy in enumerate((dy1, dy2, dy1)):
            got = bwd(dy, cache)
            ref = ref_bwd(dy.astype(np.float64), cache64)
            scale = ref_bwd(np.abs(dy.astype(np.float64)), cache64)
            assert_within_rounding(got, ref, scale, K_pool, dtype, f"{pool}-pool dx, call {call}")
