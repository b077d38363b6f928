"""Layouts: non-contiguous views (transposed, sliced, reversed, Fortran-ordered) for every
array argument give the naive float64 result on contiguous copies, within the rounding bound.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.conformance.bounds import DTYPE_IDS, DTYPES
from kernels.conformance.checks import (check_avg_pool, check_conv, check_max_pool,
                                        require_in_range, seed)
from kernels.conformance.compare import naive

CATEGORY = "layouts"


def _views(rng, kind, shape, dtype):
    """A non-contiguous array of `shape` (a view), built in one of several ways."""
    if kind == "transposed":  # axes 2, 3 swapped in memory
        base = rng.standard_normal(shape[:2] + shape[:1:-1]).astype(dtype)
        v = base.transpose(0, 1, 3, 2)
    elif kind == "sliced":  # every other element along the last two axes, offset by one
        base = rng.standard_normal(shape[:2] + (2 * shape[2] + 1, 2 * shape[3] + 1))
        v = base.astype(dtype)[:, :, 1::2, 1::2]
    elif kind == "reversed":  # negative strides
        v = rng.standard_normal(shape).astype(dtype)[::-1, :, ::-1, ::-1]
    elif kind == "fortran":
        v = np.asfortranarray(rng.standard_normal(shape).astype(dtype))
    else:
        raise AssertionError(kind)
    assert v.shape == shape and not v.flags.c_contiguous
    return v


LAYOUTS = ["transposed", "sliced", "reversed", "fortran"]


# Every backend of ours computes at least one of these (transform algorithms: stride 1).
CONTRACT_PARAMS = {"s1x2-d2x1-g2": dict(stride=(1, 2), padding=(1, 0), dilation=(2, 1), groups=2),
                   "s1-p1x0-g2": dict(padding=(1, 0), groups=2)}


@pytest.mark.parametrize("params", list(CONTRACT_PARAMS.values()), ids=list(CONTRACT_PARAMS))
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_non_contiguous_inputs(backend, layout, dtype, params):
    """Views for x, w, b and dy give the naive float64 result on contiguous copies."""
    rng = np.random.default_rng(seed("layout", layout))
    x = _views(rng, layout, (2, 4, 6, 5), dtype)
    w = _views(rng, layout, (4, 2, 3, 2), dtype)
    b = rng.standard_normal(8).astype(dtype)[::2]
    require_in_range(backend, x, w, b, **params)
    y_shape = naive().conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(w),
                                     np.ascontiguousarray(b), **params)[0].shape
    dy = _views(rng, layout, y_shape, dtype)
    check_conv(backend, x, w, b, dy=dy, **params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_pools_non_contiguous_inputs(backend, layout, dtype):
    """Views for x and dy give the naive float64 result on contiguous copies (both pools)."""
    rng = np.random.default_rng(seed("pool-layout", layout))
    x = _views(rng, layout, (2, 3, 7, 6), dtype)
    params = dict(stride=(2, 1), padding=1)
    y_shape = naive().max_pool2d_forward(np.ascontiguousarray(x), 3, **params)[0].shape
    check_max_pool(backend, x, 3, dy=_views(rng, layout, y_shape, dtype), **params)
    check_avg_pool(backend, x, 3, dy=_views(rng, layout, y_shape, dtype), **params)
