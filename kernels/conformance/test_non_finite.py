"""Non-finite values: NaN and inf are data, not errors.

A NaN propagates through every forward pass to exactly the outputs the definition makes NaN
(a transform algorithm, NONFINITE_SPREADS, may make more, never fewer, and never another
image's); an inf spreads where the definition says; and no backend makes NumPy warn about
either, or about float32 sums that overflow (a house convention, `conventions`: a plug-in's
warnings are noted, not failed). Configurations are chosen inside the backend's declared
range; backward passes only where it computes them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kernels
from kernels.conformance import conventions
from kernels.conformance.checks import (backward, backward_asks, first_in_range,
                                        require_in_range)
from kernels.conformance.compare import computed_by, naive
from kernels.conformance.refusals import _b, _w, _x

CATEGORY = "non-finite"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_nan_in_x_propagates_through_conv(backend, dtype):
    """A NaN in x makes exactly the outputs whose window contains it NaN (all filters of its
    group, that image only); every other output stays finite. A transform algorithm
    (NONFINITE_SPREADS) mixes values: it makes at least those NaN, and never touches
    another image."""
    x = _x((2, 2, 6, 6), dtype)
    w, b = _w((3, 2, 3, 3), dtype), _b(dtype=dtype)
    x[0, 1, 2, 3] = np.nan
    require_in_range(backend, x, w, b, padding=1)
    y = backend.conv2d_forward(x, w, b, padding=1)[0]
    expected = np.zeros(y.shape, dtype=bool)
    # padding 1, 3x3, stride 1: input (2, 3) feeds outputs rows 1..3, cols 2..4.
    expected[0, :, 1:4, 2:5] = True
    if kernels.capabilities(backend).nonfinite_spreads:
        assert np.isnan(y[expected]).all() and np.isfinite(y[1]).all()
    else:
        np.testing.assert_array_equal(np.isnan(y), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_nan_in_w_propagates_through_conv(backend, dtype):
    """A NaN in filter f's weights makes every output of filter f NaN (groups: only that
    filter), and no other; with groups=2 where the backend computes it, else groups=1."""
    x = _x((2, 4, 5, 5), dtype)
    options = []
    for groups in (2, 1):
        w = _w((4, 4 // groups, 3, 3), dtype)
        w[2, 0, 1, 1] = np.nan
        options.append((x, w, None, dict(groups=groups)))
    x, w, _, params = first_in_range(backend, options)
    y = backend.conv2d_forward(x, w, None, **params)[0]
    expected = np.zeros(y.shape, dtype=bool)
    expected[:, 2] = True
    np.testing.assert_array_equal(np.isnan(y), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_nan_propagates_through_pools(backend, pool, dtype):
    """A NaN in a pooling window makes that window's output NaN (max included: NaN wins, as in
    PyTorch), and only that window's."""
    x = _x((1, 2, 6, 6), dtype)
    x[0, 1, 3, 4] = np.nan
    y, cache = getattr(backend, f"{pool}_pool2d_forward")(x, 2)
    expected = np.zeros(y.shape, dtype=bool)
    expected[0, 1, 1, 2] = True
    np.testing.assert_array_equal(np.isnan(y), expected)
    # Backward still runs (NaN is data); for max pool the NaN position receives the gradient.
    dx = getattr(backend, f"{pool}_pool2d_backward")(np.ones_like(y), cache)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    if pool == "max":
        assert dx[0, 1, 3, 4] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("values", ["nan", "inf", "overflow"])
def test_non_finite_data_raises_no_warning(backend, values, dtype):
    """NaN and inf (in x and w), and float32 sums that overflow to inf, go through every
    forward and backward pass without a NumPy RuntimeWarning: propagating them is documented
    behaviour, not an accident to report."""
    x, w, b = _x((2, 2, 6, 6), dtype), _w((3, 2, 3, 3), dtype), _b(dtype=dtype)
    if values == "overflow":
        x[...] = np.finfo(dtype).max / 4
    else:
        x[0, 1, 2, 3] = w[1, 0, 1, 1] = np.nan if values == "nan" else np.inf
        x[1, 0, 0, 0] = -np.inf
    require_in_range(backend, x, w, b, padding=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y, cache = backend.conv2d_forward(x, w, b, padding=1)
        backward(backend, np.ones_like(y), cache)
        for pool in ("max", "avg"):
            yp, cp = getattr(backend, f"{pool}_pool2d_forward")(x, 3, stride=1, padding=1)
            getattr(backend, f"{pool}_pool2d_backward")(np.ones_like(yp), cp)
    messages = list(dict.fromkeys(f"{c.category.__name__}: {c.message}" for c in caught))
    if messages:  # the numbers are the other tests' business: a warning is a convention
        conventions.breach(conventions.QUIET_NONFINITE, conventions.QUIET_HELPER,
                           f"{len(caught)} warning(s): {'; '.join(messages[:3])}")


def _same_non_finite_pattern(got, ref, what):
    """NaN where ref is NaN, the same infinities, and the finite entries close (float64)."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{what}: NaN pattern")
    np.testing.assert_array_equal(got[np.isinf(ref)], ref[np.isinf(ref)], err_msg=what)
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-10, atol=1e-10, err_msg=what)


@pytest.mark.parametrize("where", ["x", "w"])
@pytest.mark.parametrize("stride", [1, 2], ids=["stride1", "stride2"])
def test_conv_with_infinity_matches_naive_pattern(candidate, where, stride):
    """An inf in x or w spreads exactly where the definition says: into the outputs whose
    windows contain it (forward), and into the dw/dx entries that multiply it - never into
    entries whose real windows never saw it (a backend that multiplies padding or dropped
    columns by the inf would put NaN = 0 * inf there)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    (x if where == "x" else w)[0, 0, 2, 0] = np.inf
    params = dict(stride=stride, padding=1)
    require_in_range(candidate, x, w, None, **params)
    with np.errstate(invalid="ignore"):
        y_ref, cache_ref = naive().conv2d_forward(x, w, **params)
        dy = rng.standard_normal(y_ref.shape)
        dx_ref, dw_ref, _ = naive().conv2d_backward(dy, cache_ref)
        y, cache = candidate.conv2d_forward(x, w, **params)
        dx, dw, _ = backward(candidate, dy, cache)
    compute_dx, compute_dw = backward_asks(candidate)
    spreads = kernels.capabilities(computed_by(candidate, cache)).nonfinite_spreads
    for got, ref, what, asked in ((y, y_ref, "y", True), (dx, dx_ref, "dx", compute_dx),
                                  (dw, dw_ref, "dw", compute_dw)):
        if not asked:
            continue
        if spreads:  # transforms mix values: what the definition makes non-finite stays so
            assert not np.isfinite(got[~np.isfinite(ref)]).any(), f"{what}: a NaN/inf vanished"
        else:
            _same_non_finite_pattern(got, ref, what)
