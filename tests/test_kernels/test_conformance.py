"""Conformance: every backend computes what the naive reference computes.

Each grid case runs conv forward+backward (y, dx, dw, db) or a pool forward+backward on one
backend and checks it against the naive backend in float64 with the rounding bound of
`kernel_helpers` (K * eps(dtype) * sum|terms|, derived from dtype and reduction length).
The grid uses `candidate` (every backend but naive: naive against itself would prove nothing);
the layout / dtype / no-mutation / repeat tests use `backend`, naive included.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.shapes import conv2d_geometry

from kernel_helpers import (DTYPE_IDS, DTYPES, NAIVE, assert_conv_close, assert_within_rounding,
                            check_avg_pool, check_conv, check_max_pool, computed_by,
                            conv_inputs, conv_reference, error_model, pool_input)

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
}


def _seed(*parts) -> int:
    """A stable seed per test case (str hashing is randomized per process; this is not)."""
    return sum((i + 1) * ord(ch) for i, ch in enumerate("/".join(map(str, parts))))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", list(CONV_CASES.values()), ids=list(CONV_CASES))
def test_conv_matches_naive(candidate, case, bias, dtype):
    """Conv y, dx, dw, db of the backend are within the rounding bound of naive float64."""
    N, C, H, W, F, (kh, kw), params = case
    rng = np.random.default_rng(_seed(case, bias))
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw,
                          groups=params.get("groups", 1), bias=bias, dtype=dtype)
    check_conv(candidate, x, w, b, rng=rng, **params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv_integer_valued_data_is_exact(candidate, dtype):
    """With small-integer data every partial sum is exact, so any correct summation order gives
    the naive result bit for bit (the rounding bound is not needed). Transform algorithms
    multiply by non-dyadic constants (Winograd's G, FFT twiddles): their own tests cover what
    is exact for them."""
    if error_model(candidate) != "direct":
        pytest.skip(f"{candidate.name} rounds even on integers")
    rng = np.random.default_rng(7)
    x, w, b = conv_inputs(rng, N=2, C=4, H=7, W=6, F=4, kh=3, kw=2, groups=2, dtype=dtype,
                          ints=True)
    params = dict(stride=(1, 2), padding=(2, 1), dilation=(1, 2), groups=2)
    y_ref, cache_ref = NAIVE.conv2d_forward(x, w, b, **params)
    dy = rng.integers(-3, 4, size=y_ref.shape).astype(dtype)
    ref = NAIVE.conv2d_backward(dy, cache_ref)
    y, cache = candidate.conv2d_forward(x, w, b, **params)
    got = candidate.conv2d_backward(dy, cache)
    np.testing.assert_array_equal(y, y_ref, strict=True)
    for name, g, r in zip(("dx", "dw", "db"), got, ref):
        np.testing.assert_array_equal(g, r, err_msg=name, strict=True)


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
    rng = np.random.default_rng(_seed("max", case))
    check_max_pool(candidate, pool_input(rng, (N, C, H, W), dtype), k, rng=rng, **params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", list(POOL_CASES.values()), ids=list(POOL_CASES))
def test_max_pool_ties_match_naive(candidate, case, dtype):
    """Inputs from {0, 1, 2}: most windows hold tied maxima, so the gradient routing (first
    maximum in row-major window order) must agree with naive position by position."""
    N, C, H, W, k, params = case
    rng = np.random.default_rng(_seed("ties", case))
    x = pool_input(rng, (N, C, H, W), dtype, ints=True)
    check_max_pool(candidate, x, k, rng=rng, **params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", list(POOL_CASES.values()), ids=list(POOL_CASES))
def test_avg_pool_matches_naive(candidate, case, dtype):
    """Avg-pool forward and backward are within the rounding bound of naive float64."""
    N, C, H, W, k, params = case
    rng = np.random.default_rng(_seed("avg", case))
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


# ------------------------------------------------------------------ dtype, layout, purity

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_output_dtype_equals_input_dtype(backend, dtype):
    """y, dx, dw, db of conv and y, dx of both pools come back in the input dtype."""
    rng = np.random.default_rng(3)
    x, w, b = conv_inputs(rng, N=1, C=2, H=5, W=5, F=2, kh=3, kw=3, dtype=dtype)
    y, cache = backend.conv2d_forward(x, w, b, padding=1)
    dx, dw, db = backend.conv2d_backward(np.ones_like(y), cache)
    outputs = {"conv y": y, "conv dx": dx, "conv dw": dw, "conv db": db}
    for pool in ("max", "avg"):
        yp, cp = getattr(backend, f"{pool}_pool2d_forward")(x, 2, stride=1)
        outputs[f"{pool} y"] = yp
        outputs[f"{pool} dx"] = getattr(backend, f"{pool}_pool2d_backward")(np.ones_like(yp), cp)
    for name, arr in outputs.items():
        assert isinstance(arr, np.ndarray), name
        assert arr.dtype == np.dtype(dtype), f"{name}: {arr.dtype} != {np.dtype(dtype)}"


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


# Every backend computes at least one of these (transform algorithms need stride 1).
CONTRACT_PARAMS = {"s1x2-d2x1-g2": dict(stride=(1, 2), padding=(1, 0), dilation=(2, 1), groups=2),
                   "s1-p1x0-g2": dict(padding=(1, 0), groups=2)}


def _skip_unless_computed(backend, x, w, b, params):
    reason = backend.unsupported(conv2d_geometry(x, w, b, **params))
    if reason is not None:
        pytest.skip(f"{backend.name}: {reason}")


@pytest.mark.parametrize("params", list(CONTRACT_PARAMS.values()), ids=list(CONTRACT_PARAMS))
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_non_contiguous_inputs(backend, layout, dtype, params):
    """Views for x, w, b and dy give the naive float64 result on contiguous copies."""
    rng = np.random.default_rng(_seed("layout", layout))
    x = _views(rng, layout, (2, 4, 6, 5), dtype)
    w = _views(rng, layout, (4, 2, 3, 2), dtype)
    b = rng.standard_normal(8).astype(dtype)[::2]
    _skip_unless_computed(backend, x, w, b, params)
    y_shape = NAIVE.conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(w),
                                   np.ascontiguousarray(b), **params)[0].shape
    dy = _views(rng, layout, y_shape, dtype)
    check_conv(backend, x, w, b, dy=dy, **params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_pools_non_contiguous_inputs(backend, layout, dtype):
    """Views for x and dy give the naive float64 result on contiguous copies (both pools)."""
    rng = np.random.default_rng(_seed("pool-layout", layout))
    x = _views(rng, layout, (2, 3, 7, 6), dtype)
    params = dict(stride=(2, 1), padding=1)
    y_shape = NAIVE.max_pool2d_forward(np.ascontiguousarray(x), 3, **params)[0].shape
    check_max_pool(backend, x, 3, dy=_views(rng, layout, y_shape, dtype), **params)
    check_avg_pool(backend, x, 3, dy=_views(rng, layout, y_shape, dtype), **params)


@pytest.mark.parametrize("stride", [2, 1], ids=["stride2", "stride1"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_inputs_not_modified(backend, dtype, stride):
    """Forward and backward of conv and pools leave x, w, b and dy bit-for-bit unchanged."""
    rng = np.random.default_rng(11)
    x, w, b = conv_inputs(rng, N=2, C=2, H=6, W=6, F=2, kh=3, kw=3, dtype=dtype)
    _skip_unless_computed(backend, x, w, b, dict(padding=1, stride=stride))
    originals = {"x": x.copy(), "w": w.copy(), "b": b.copy()}
    y, cache = backend.conv2d_forward(x, w, b, padding=1, stride=stride)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dy_copy = dy.copy()
    backend.conv2d_backward(dy, cache)
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
    _skip_unless_computed(backend, x, w, b, params)
    y_ref, y_scale, ref_backward = conv_reference(x, w, b, **params)
    y, cache = backend.conv2d_forward(x, w, b, **params)
    dy1 = rng.standard_normal(y_ref.shape).astype(dtype)
    dy2 = rng.standard_normal(y_ref.shape).astype(dtype)
    for call, dy in enumerate((dy1, dy2, dy1)):
        dx_ref, dw_ref, db_ref, sdx, sdw, sdb = ref_backward(dy)
        assert_conv_close(computed_by(backend, cache), (y, *backend.conv2d_backward(dy, cache)),
                          dict(values=(y_ref, dx_ref, dw_ref, db_ref),
                               scales=(y_scale, sdx, sdw, sdb)), x, w, b, dy, params,
                          f", call {call}")

    for pool, K_pool in (("max", 4), ("avg", 4 + 2)):
        fwd = getattr(backend, f"{pool}_pool2d_forward")
        bwd = getattr(backend, f"{pool}_pool2d_backward")
        _, cache = fwd(x, 2, stride=1)
        _, cache64 = getattr(NAIVE, f"{pool}_pool2d_forward")(x.astype(np.float64), 2, stride=1)
        ref_bwd = getattr(NAIVE, f"{pool}_pool2d_backward")
        dy1 = rng.standard_normal(cache64[-1].y_shape).astype(dtype)
        dy2 = rng.standard_normal(cache64[-1].y_shape).astype(dtype)
        for call, dy in enumerate((dy1, dy2, dy1)):
            got = bwd(dy, cache)
            ref = ref_bwd(dy.astype(np.float64), cache64)
            scale = ref_bwd(np.abs(dy.astype(np.float64)), cache64)
            assert_within_rounding(got, ref, scale, K_pool, dtype, f"{pool}-pool dx, call {call}")


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
    _skip_unless_computed(candidate, x, w, None, params)
    with np.errstate(invalid="ignore"):
        y_ref, cache_ref = NAIVE.conv2d_forward(x, w, **params)
        dy = rng.standard_normal(y_ref.shape)
        dx_ref, dw_ref, _ = NAIVE.conv2d_backward(dy, cache_ref)
        y, cache = candidate.conv2d_forward(x, w, **params)
        dx, dw, _ = candidate.conv2d_backward(dy, cache)
    spreads = getattr(computed_by(candidate, cache), "NONFINITE_SPREADS", False)
    for got, ref, what in ((y, y_ref, "y"), (dx, dx_ref, "dx"), (dw, dw_ref, "dw")):
        if spreads:  # transforms mix values: what the definition makes non-finite stays so
            assert not np.isfinite(got[~np.isfinite(ref)]).any(), f"{what}: a NaN/inf vanished"
        else:
            _same_non_finite_pattern(got, ref, what)


# ------------------------------------------------------------------ the three passes apart

SPLIT_CASES = {k: CONV_CASES[k] for k in ("k3-s1-p0", "k3-s2-p1", "k3-d2", "groups2",
                                          "depthwise-F2xC", "k1x1", "k2-same-odd-total")}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", list(SPLIT_CASES.values()), ids=list(SPLIT_CASES))
def test_backward_passes_apart_equal_the_combined_call(backend, case, bias):
    """compute_dx=False returns dx None, compute_dw=False returns dw and db None, and what is
    computed is bit for bit what the combined call computes (same operations, same order)."""
    N, C, H, W, F, (kh, kw), params = case
    rng = np.random.default_rng(_seed("split", case, bias))
    x, w, b = conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw,
                          groups=params.get("groups", 1), bias=bias, dtype=np.float32)
    _skip_unless_computed(backend, x, w, b, params)
    y, cache = backend.conv2d_forward(x, w, b, **params)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = backend.conv2d_backward(dy, cache)
    only_dx = backend.conv2d_backward(dy, cache, compute_dw=False)
    only_dw = backend.conv2d_backward(dy, cache, compute_dx=False)
    assert only_dx[1] is None and only_dx[2] is None and only_dw[0] is None
    np.testing.assert_array_equal(only_dx[0], dx, strict=True)
    np.testing.assert_array_equal(only_dw[1], dw, strict=True)
    if bias:
        np.testing.assert_array_equal(only_dw[2], db, strict=True)
    else:
        assert only_dw[2] is None
    assert backend.conv2d_backward(dy, cache, compute_dx=False, compute_dw=False) == \
        (None, None, None)
