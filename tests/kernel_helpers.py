"""Shared test helpers: input builders, the naive float64 reference and the error bound.

Tolerance model (used by every numerical comparison in the suite)
-----------------------------------------------------------------
Every quantity the backends compute is a sum of K rounded terms: a conv output is a dot product
of length K = Cg*kh*kw (+1 for the bias), an input gradient collects at most K = Fg*kh*kw terms
(for fixed filter f and tap (p, q) an input element lies in at most one window), dw and db sum
K = N*Ho*Wo terms. Whatever the summation order (loops, pairwise, BLAS blocking, FMA), the
textbook bound (Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.5) is

    |fl(sum) - sum| <= gamma_K * sum|terms|,   gamma_K = K*u / (1 - K*u),   u = eps / 2.

`sum|terms|` (the "scale") is the same quantity computed on absolute values: the naive conv of
|x| with |w| (+|b|), or the naive backward of |dy| through a forward of |x|, |w|. The reference
is the naive backend in float64 on the same inputs (float32 inputs are cast exactly to float64),
whose own error is bounded the same way with float64's eps. So

    |got - ref| <= (gamma_K(dtype) + gamma_K(float64)) * scale <= C_BOUND * K * eps(dtype) * scale

with C_BOUND = 2 = 4u/eps: a factor 2 over gamma_K ~ K*u covers the reference's own error, the
1/(1 - K*u) factor and the final rounding of a higher-precision accumulator to the output
dtype (all far below K*u for the K < 10^4 used here). `K * tiny` covers products that
underflow (irrelevant for O(1) data, but keeps the bound honest at 0). The bound is derived
from the dtype and the reduction length only, never from an observed error: a wrong tap, a
missing term or a swapped index changes a result by O(|term|), many orders above it (about
1e-5 relative in float32 and 1e-13 in float64 for these sizes).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import kernels
from kernels.shapes import conv2d_geometry

NAIVE = kernels.get_backend("naive")
DTYPES = (np.float32, np.float64)
DTYPE_IDS = ("f32", "f64")
C_BOUND = 2.0


def as_pair(value) -> tuple[int, int]:
    """(h, w) from an int or a pair."""
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def error_bound(scale: np.ndarray, K: int, dtype) -> np.ndarray:
    """Elementwise bound C_BOUND * K * eps(dtype) * scale + K * tiny (see module docstring)."""
    finfo = np.finfo(np.dtype(dtype))
    return C_BOUND * K * float(finfo.eps) * np.asarray(scale, dtype=np.float64) \
        + K * float(finfo.tiny)


def assert_within_rounding(got, ref, scale, K: int, dtype, what: str) -> None:
    """Assert got has ref's shape, the given dtype, and |got - ref| <= error_bound elementwise.

    ref and scale are float64. A NaN in got (where ref is finite) fails.
    """
    dtype = np.dtype(dtype)
    assert isinstance(got, np.ndarray), f"{what}: expected a numpy.ndarray, got {type(got)}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    bound = error_bound(scale, K, dtype)
    err = np.abs(got.astype(np.float64) - ref)
    bad = ~(err <= bound)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        ratio = np.where(bad, np.nan_to_num(err / bound, nan=np.inf), 0.0)
        worst = np.unravel_index(int(np.argmax(ratio)), err.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} elements outside the rounding bound "
            f"(K={K}, dtype={dtype}). First at {idx}: got {got[idx]!r}, ref {ref[idx]!r}, "
            f"|err| {err[idx]:.3g} > bound {bound[idx]:.3g}. Worst at "
            f"{tuple(int(i) for i in worst)}: err/bound = {err[worst] / bound[worst]:.3g}")


# --------------------------------------------------------------------------- input builders

def conv_inputs(rng, *, N, C, H, W, F, kh, kw, groups=1, bias=True, dtype=np.float64,
                ints=False):
    """x (N,C,H,W), w (F,C//groups,kh,kw), b (F,) or None, standard normal (or small ints)."""
    def draw(shape):
        if ints:
            return rng.integers(-3, 4, size=shape).astype(dtype)
        return rng.standard_normal(shape).astype(dtype)
    x = draw((N, C, H, W))
    w = draw((F, C // groups, kh, kw))
    b = draw((F,)) if bias else None
    return x, w, b


def pool_input(rng, shape, dtype=np.float64, ints=False):
    """A pooling input; ints=True draws from {0, 1, 2} so that ties are frequent."""
    if ints:
        return rng.integers(0, 3, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _f64(a):
    return None if a is None else np.array(a, dtype=np.float64)  # C-contiguous copy


def _abs64(a):
    return None if a is None else np.abs(_f64(a))


# --------------------------------------------------------------------------- references

def conv_reference(x, w, b, **params):
    """Naive float64 reference of conv forward and its scale (conv of |x|, |w|, |b|).

    Returns (y, y_scale, backward) where backward(dy) -> (dx, dw, db, dx_scale, dw_scale,
    db_scale), all float64 (db and db_scale are None without a bias).
    """
    y, cache = NAIVE.conv2d_forward(_f64(x), _f64(w), _f64(b), **params)
    y_scale, cache_abs = NAIVE.conv2d_forward(_abs64(x), _abs64(w), _abs64(b), **params)

    def backward(dy):
        dx, dw, db = NAIVE.conv2d_backward(_f64(dy), cache)
        sdx, sdw, sdb = NAIVE.conv2d_backward(_abs64(dy), cache_abs)
        return dx, dw, db, sdx, sdw, sdb

    return y, y_scale, backward


def conv_reduction_lengths(x, w, b, y_shape, groups=1) -> dict[str, int]:
    """K for each conv quantity, from the shapes alone (see module docstring)."""
    N = x.shape[0]
    F, Cg, kh, kw = w.shape
    Fg = F // groups
    Ho, Wo = y_shape[2], y_shape[3]
    return {"y": Cg * kh * kw + (b is not None), "dx": Fg * kh * kw,
            "dw": N * Ho * Wo, "db": N * Ho * Wo}


def computed_by(backend, cache):
    """The algorithm that computed a forward pass: a dispatcher's choice, else the backend."""
    winner = getattr(backend, "winner", None)
    return kernels.get_backend(winner(cache)) if winner else backend


def error_model(algorithm) -> str:
    """Which analysis bounds an algorithm's error: 'direct' (a plain sum of products, the
    bound above), 'winograd' (componentwise, from the transform matrices:
    winograd_bounds.py) or 'fft' (normwise per plane: fft_bounds.py)."""
    if algorithm.name.startswith("winograd"):
        return "winograd"
    return "fft" if algorithm.name == "fft" else "direct"


def assert_conv_close(algorithm, got, ref, x, w, b, dy, params, what=""):
    """got = (y, dx, dw, db) of `algorithm` against ref = dict(values=(y, dx, dw, db),
    scales=(...)), a float64 reference of direct sums with the sum|terms| of each element,
    each within the bound of the algorithm's error model plus the reference's own error."""
    dtype = np.dtype(x.dtype)
    names = ("y", "dx", "dw", "db")
    y_shape = ref["values"][0].shape
    K = conv_reduction_lengths(x, w, b, y_shape, params.get("groups", 1))
    if b is None:
        assert got[3] is None, f"{what} db must be None without a bias, got {got[3]!r}"
    model = error_model(algorithm)
    for name, value, want, scale in zip(names, got, ref["values"], ref["scales"]):
        if want is None:
            continue
        label = f"{algorithm.name} {name}{what}"
        if model == "direct" or name == "db":  # db is a plain sum in every algorithm
            assert_within_rounding(value, want, scale, K[name], dtype, label)
        elif model == "winograd":
            import winograd_bounds
            bound_scale, bound_K = winograd_bounds.error_scale(algorithm, x, w, b, dy,
                                                               **params)[name]
            bound = winograd_bounds.error_bound(bound_scale, bound_K, dtype, K[name])
            _assert_elementwise(value, want, bound, dtype, label)
        else:
            import fft_bounds
            bound = fft_bounds.error_bound(x, w, dy, b, **params)[name]
            reference_error = error_bound(scale, K[name], np.float64)  # elementwise
            _assert_planewise(value, want, bound, reference_error, dtype, label)


def _assert_elementwise(got, want, bound, dtype, what):
    assert isinstance(got, np.ndarray) and got.dtype == dtype, f"{what}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    err = np.abs(got.astype(np.float64) - want)
    bad = ~(err <= bound)
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, err / bound, 0)), err.shape)
        raise AssertionError(f"{what}: {int(bad.sum())}/{bad.size} elements outside the "
                             f"bound; worst at {worst}: {err[worst]:.3g} > {bound[worst]:.3g}")


def _assert_planewise(got, want, bound, reference_error, dtype, what):
    """||got - want||_2 per (N, C) plane within the bound plus the 2-norm of the reference's
    elementwise error bound."""
    assert isinstance(got, np.ndarray) and got.dtype == dtype, f"{what}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    err = np.sqrt(((got.astype(np.float64) - want) ** 2).sum(axis=(2, 3)))
    limit = bound + np.sqrt((reference_error ** 2).sum(axis=(2, 3)))
    if not np.all(err <= limit):
        worst = np.unravel_index(np.argmax(err / limit), err.shape)
        raise AssertionError(f"{what}: plane {worst} error {err[worst]:.3g} > bound "
                             f"{limit[worst]:.3g}")


def check_conv(backend, x, w, b=None, *, rng=None, dy=None, **params):
    """Run backend conv forward+backward and check y, dx, dw, db against naive in float64,
    within the bound of the algorithm's error model. A backend that does not compute the
    configuration must refuse it, naming its reason; then nothing else is checked.

    dy defaults to standard normal noise of the output's shape and x's dtype (drawn from rng).
    Returns (y, dx, dw, db) from the backend, or None when it refused.
    """
    reason = backend.unsupported(conv2d_geometry(x, w, b, **params))
    if reason is not None:
        try:
            backend.conv2d_forward(x, w, b, **params)
        except ValueError as e:
            assert reason in str(e), f"{backend.name}: {e!r} does not give the reason {reason!r}"
            return None
        raise AssertionError(f"{backend.name} computed a configuration it says it does not: "
                             f"{reason}")
    dtype = x.dtype
    y_ref, y_scale, ref_backward = conv_reference(x, w, b, **params)
    y, cache = backend.conv2d_forward(x, w, b, **params)
    if dy is None:
        rng = rng if rng is not None else np.random.default_rng(12345)
        dy = rng.standard_normal(y_ref.shape).astype(dtype)
    dx_ref, dw_ref, db_ref, sdx, sdw, sdb = ref_backward(dy)
    got = (y, *backend.conv2d_backward(dy, cache))
    assert_conv_close(computed_by(backend, cache), got,
                      dict(values=(y_ref, dx_ref, dw_ref, db_ref),
                           scales=(y_scale, sdx, sdw, sdb)), x, w, b, dy, params)
    return got


def check_max_pool(backend, x, kernel_size, *, rng=None, dy=None, **params):
    """Max pool: forward must equal naive exactly (same dtype, no arithmetic involved);
    backward is a sum of at most kh*kw routed dy values per input element, so it gets the
    rounding bound with K = kh*kw (overlapping windows may add them in another order)."""
    dtype = x.dtype
    kh, kw = as_pair(kernel_size)
    y_ref, _ = NAIVE.max_pool2d_forward(np.ascontiguousarray(x), kernel_size, **params)
    y, cache = backend.max_pool2d_forward(x, kernel_size, **params)
    assert isinstance(y, np.ndarray) and y.dtype == dtype, \
        f"{backend.name} max-pool y: dtype {getattr(y, 'dtype', type(y))}, expected {dtype}"
    assert y.shape == y_ref.shape, f"{backend.name} max-pool y: shape {y.shape} != {y_ref.shape}"
    np.testing.assert_array_equal(y, y_ref, err_msg=f"{backend.name} max-pool forward",
                                  strict=True)
    if dy is None:
        rng = rng if rng is not None else np.random.default_rng(12345)
        dy = rng.standard_normal(y_ref.shape).astype(dtype)
    # float32 -> float64 preserves order and ties, so the float64 argmax is the same.
    _, cache64 = NAIVE.max_pool2d_forward(_f64(x), kernel_size, **params)
    dx_ref = NAIVE.max_pool2d_backward(_f64(dy), cache64)
    scale = NAIVE.max_pool2d_backward(_abs64(dy), cache64)
    dx = backend.max_pool2d_backward(dy, cache)
    assert_within_rounding(dx, dx_ref, scale, kh * kw, dtype, f"{backend.name} max-pool dx")
    return y, dx


def check_avg_pool(backend, x, kernel_size, *, rng=None, dy=None, **params):
    """Avg pool forward/backward against naive float64. K = kh*kw + 2: at most kh*kw summed
    terms plus the division by kh*kw (done as a division, or as a multiplication by a rounded
    reciprocal: two roundings)."""
    dtype = x.dtype
    kh, kw = as_pair(kernel_size)
    K = kh * kw + 2
    y_ref, cache64 = NAIVE.avg_pool2d_forward(_f64(x), kernel_size, **params)
    y_scale, _ = NAIVE.avg_pool2d_forward(_abs64(x), kernel_size, **params)
    y, cache = backend.avg_pool2d_forward(x, kernel_size, **params)
    assert_within_rounding(y, y_ref, y_scale, K, dtype, f"{backend.name} avg-pool y")
    if dy is None:
        rng = rng if rng is not None else np.random.default_rng(12345)
        dy = rng.standard_normal(y_ref.shape).astype(dtype)
    dx_ref = NAIVE.avg_pool2d_backward(_f64(dy), cache64)
    scale = NAIVE.avg_pool2d_backward(_abs64(dy), cache64)
    dx = backend.avg_pool2d_backward(dy, cache)
    assert_within_rounding(dx, dx_ref, scale, K, dtype, f"{backend.name} avg-pool dx")
    return y, dx


# --------------------------------------------------------------------------- strategies

MAX_HW = 10
WORK_BUDGET = 400  # output elements per example (naive: ~10 us each, forward + backward)


def int_or_pair(lo, hi):
    """An int, or an (h, w) tuple of ints, in [lo, hi]."""
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


def _out(size, pad_total, k, s, d):
    return (size + pad_total - d * (k - 1) - 1) // s + 1


@st.composite
def conv_configs(draw, unit_stride=False):
    """(shapes, params, seed) for a valid conv2d with a non-empty output (the arrays are built
    from the seed in the test, so a failing example prints compactly). unit_stride: stride
    and dilation 1 only, the configurations every transform algorithm computes."""
    dtype = draw(st.sampled_from(DTYPES))
    groups = draw(st.integers(1, 3))
    C = groups * draw(st.integers(1, 2))  # Cg = 1 is depthwise
    F = groups * draw(st.integers(1, 2))  # F = C or 2C when depthwise
    N = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = 1 if unit_stride else draw(int_or_pair(1, 3))
    dh, dw = as_pair(dilation)
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.sampled_from(["same", "valid"])))
    if padding == "same":
        stride = draw(st.sampled_from([1, (1, 1)]))
        pad_h, pad_w = dh * (kh - 1), dw * (kw - 1)
    else:
        stride = 1 if unit_stride else draw(int_or_pair(1, 3))
        ph, pw = (0, 0) if padding == "valid" else as_pair(padding)
        pad_h, pad_w = 2 * ph, 2 * pw
    # Smallest input that still fits one (dilated) window; dilation*(k-1)+1 <= 10 = MAX_HW.
    H = draw(st.integers(max(1, dh * (kh - 1) + 1 - pad_h), MAX_HW))
    W = draw(st.integers(max(1, dw * (kw - 1) + 1 - pad_w), MAX_HW))
    sh, sw = as_pair(stride)
    Ho, Wo = _out(H, pad_h, kh, sh, dh), _out(W, pad_w, kw, sw, dw)
    assert Ho >= 1 and Wo >= 1  # by construction
    assume(N * F * Ho * Wo <= WORK_BUDGET)
    shapes = dict(N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw, groups=groups,
                  bias=draw(st.booleans()), dtype=dtype, ints=draw(st.booleans()))
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return shapes, params, draw(st.integers(0, 2**32 - 1))


@st.composite
def pool_configs(draw):
    """(x_spec, kernel_size, params, seed) for a valid pool with a non-empty output."""
    dtype = draw(st.sampled_from(DTYPES))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel_size = draw(int_or_pair(1, 4))
    kh, kw = as_pair(kernel_size)
    # PyTorch's rule: padding at most half the kernel, per axis.
    padding = draw(st.one_of(st.integers(0, min(kh, kw) // 2),
                             st.tuples(st.integers(0, kh // 2), st.integers(0, kw // 2))))
    ph, pw = as_pair(padding)
    stride = draw(st.one_of(st.none(), int_or_pair(1, 3)))
    sh, sw = (kh, kw) if stride is None else as_pair(stride)
    H = draw(st.integers(max(1, kh - 2 * ph), MAX_HW))
    W = draw(st.integers(max(1, kw - 2 * pw), MAX_HW))
    Ho, Wo = _out(H, 2 * ph, kh, sh, 1), _out(W, 2 * pw, kw, sw, 1)
    assert Ho >= 1 and Wo >= 1
    assume(N * C * Ho * Wo <= WORK_BUDGET)
    # stride=None and padding=0 are also exercised as omitted arguments (the defaults).
    params = {} if stride is None and draw(st.booleans()) else dict(stride=stride)
    if padding != 0 or draw(st.booleans()):
        params["padding"] = padding
    x_spec = dict(shape=(N, C, H, W), dtype=dtype, ints=draw(st.booleans()))
    return x_spec, kernel_size, params, draw(st.integers(0, 2**32 - 1))
