"""What is particular to the Winograd backends (the conformance, property and oracle suites
cover them like every backend, with the bound of kernels/conformance/winograd_bound.py): the generated matrices,
exactness where the arithmetic is exact, the bound's own soundness, the skipped passes, the
workspace cap, the limits and the documented spreading of non-finite values."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest

import kernels
import kernels.backends.winograd as W
from kernels.backends.winograd import transforms
from kernels.bench import workspace_bytes
from kernels.conformance import winograd_bound
from kernels.conformance.checks import check_conv, conv_inputs
from kernels.shapes import conv2d_geometry

NAIVE = kernels.get_backend("naive")
BACKENDS = (kernels.get_backend("winograd2x2"), kernels.get_backend("winograd4x4"))
DTYPES = (np.float32, np.float64)


def largest_kernel(backend, dtype=np.float32):
    return transforms.MAX_TILE[np.dtype(dtype)] - backend.m + 1


def make(rng, *, N, C, H, W, F, kh, kw, groups=1, bias=True, dtype=np.float64, ints=False):
    return conv_inputs(rng, N=N, C=C, H=H, W=W, F=F, kh=kh, kw=kw, groups=groups, bias=bias,
                       dtype=dtype, ints=ints)


def check(backend, x, w, b, rng, dy=None, **params):
    return check_conv(backend, x, w, b, rng=rng, dy=dy, **params)


def reference(x, w, b, dy, **params):
    """(y, dx, dw, db) of naive in float64."""
    y, cache = NAIVE.conv2d_forward(x, w, b, **params)
    return (y, *NAIVE.conv2d_backward(dy, cache))


def test_f23_matches_lavin_gray():
    """Lavin & Gray (2016) eq. 7; equal up to the per-position scaling a_i * g_i * b_i = 1 that
    any Winograd algorithm may redistribute, so compare the rank-one term of each position."""
    BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    h = Fraction(1, 2)
    G = [[1, 0, 0], [h, h, h], [h, -h, h], [0, 0, 1]]
    AT = [[1, 1, 1, 0], [0, 1, -1, -1]]
    A, G_ours, B = transforms.cook_toom(2, 3, transforms.POINTS[4])
    assert transforms.POINTS[4] == (0, 1, -1)
    taps = [(a, p, k) for a in range(2) for p in range(3) for k in range(4)]
    for i in range(4):
        ours = [A[i][a] * G_ours[i][p] * B[k][i] for a, p, k in taps]
        theirs = [AT[a][i] * G[i][p] * BT[i][k] for a, p, k in taps]
        assert ours == theirs, f"position {i}"


SUPPORTED_1D = [(m, r) for m in (2, 4) for r in range(2, max(W.MAX_TILE.values()) - m + 2)]


@pytest.mark.parametrize("m, r", SUPPORTED_1D)
def test_cook_toom_computes_correlation_exactly(m, r):
    """y = A^T [(G g) * (B^T d)] equals the direct correlation in exact rational arithmetic."""
    A, G, B = transforms.cook_toom(m, r, transforms.POINTS[m + r - 1])
    n = m + r - 1
    rnd = random.Random(m * 100 + r)
    for _ in range(5):
        g = [Fraction(rnd.randint(-50, 50), rnd.randint(1, 9)) for _ in range(r)]
        d = [Fraction(rnd.randint(-50, 50), rnd.randint(1, 9)) for _ in range(n)]
        Gg = [sum(G[i][p] * g[p] for p in range(r)) for i in range(n)]
        Btd = [sum(B[k][i] * d[k] for k in range(n)) for i in range(n)]
        y = [sum(A[i][a] * Gg[i] * Btd[i] for i in range(n)) for a in range(m)]
        assert y == [sum(g[p] * d[a + p] for p in range(r)) for a in range(m)]


def test_points_are_small():
    """0, +-1, +-1/2, +-2 (and infinity) only: small powers keep |A|, |B|, |G| small."""
    for n, points in transforms.POINTS.items():
        assert len(points) == n - 1 and points[0] == 0
        assert set(points) <= {0, 1, -1, Fraction(1, 2), Fraction(-1, 2), 2, -2}


def test_f43_points_lower_the_bound_against_lavins(monkeypatch):
    """On all-ones data the bound's scale (the abs-valued algorithm) of F(4x4,3x3) is ~2.6x
    smaller with our points than with Lavin & Gray's 0, +-1, +-2."""
    x, w = np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3))
    ours = winograd_bound.error_scale(BACKENDS[1], x, w)["y"][0]
    monkeypatch.setitem(transforms.POINTS, 6, (0, 1, -1, 2, -2))
    transforms.transform.cache_clear()
    try:
        lavin = winograd_bound.error_scale(BACKENDS[1], x, w)["y"][0]
    finally:
        transforms.transform.cache_clear()
    assert ours.max() * 2 < lavin.max()


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_larger_problem_against_im2col(backend):
    rng = np.random.default_rng(3)
    x, w, b = make(rng, N=4, C=16, H=15, W=13, F=8, kh=3, kw=3, dtype=np.float32)
    check(backend, x, w, b, rng, padding=1)


# --------------------------------------------------------------------------- exactness

@pytest.mark.parametrize("kh, kw", [(2, 2), (3, 3), (3, 2), (2, 3)])
def test_exact_on_small_integers(kh, kw):
    """F(2,2) and F(2,3) have dyadic A, B, G (points 0, +-1): on small integers in float64
    every operation of forward and backward is exact, so the result equals naive bit for bit.
    (Other tiles have 1/3 or 1/5 in G; ints=True examples of test_random_configs cover them.)"""
    assert not any(transforms.transform(2, r).rounded[X] for r in (kh, kw) for X in "AGB")
    rng = np.random.default_rng(kh * 10 + kw)
    x, w, b = make(rng, N=2, C=3, H=9, W=8, F=4, kh=kh, kw=kw, ints=True)
    y, cache = BACKENDS[0].conv2d_forward(x, w, b, padding="same")
    dy = rng.integers(-3, 4, y.shape).astype(np.float64)
    for got, ref in zip((y, *BACKENDS[0].conv2d_backward(dy, cache)),
                        reference(x, w, b, dy, padding="same")):
        np.testing.assert_array_equal(got, ref)


# --------------------------------------------------------------------------- the bound itself

@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_scale_dominates_direct_sum_of_terms(backend):
    """The Winograd scale is >= sum|terms| of direct convolution (see error_bound)."""
    rng = np.random.default_rng(11)
    x, w, b = make(rng, N=2, C=3, H=8, W=7, F=2, kh=3, kw=3)
    direct, _ = NAIVE.conv2d_forward(np.abs(x), np.abs(w), np.abs(b), padding=1)
    scale, _ = winograd_bound.error_scale(backend, x, w, b, padding=1)["y"]
    assert np.all(scale >= direct * (1 - 1e-12))


# --------------------------------------------------------------------------- backward flags

@pytest.mark.parametrize("keep_V", [True, False], ids=["V kept", "V recomputed"])
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_backward_flags_skip_the_work(backend, keep_V, monkeypatch):
    """compute_dx=False runs neither the dV GEMM nor the dx transform; compute_dw=False runs
    neither the dU GEMM nor (when V was not kept) the recomputation of V."""
    rng = np.random.default_rng(5)
    x, w, b = make(rng, N=3, C=4, H=7, W=6, F=5, kh=3, kw=3, dtype=np.float32)
    if not keep_V:  # a cap below one image: one image per chunk, V recomputed
        monkeypatch.setattr(backend, "MAX_WORKSPACE_BYTES", 1)
    y, cache = backend.conv2d_forward(x, w, b, padding=1)
    assert (cache[2] is not None) == keep_V
    chunks = len(cache[3])
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx_full, dw_full, db_full = backend.conv2d_backward(dy, cache)

    def forbidden(*args):
        raise AssertionError("work that was not asked for")

    def only_dy(gather):  # dM from dy is needed; V from x (recomputed) is not
        def checked(source, *args):
            assert source.shape[1] == y.shape[1], "V recomputed without compute_dw"
            return gather(source, *args)
        return checked
    gemms = []
    real_matmul = np.matmul
    def counted_matmul(a, b_, **kwargs):
        gemms.append(a.shape)
        return real_matmul(a, b_, **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(np, "matmul", counted_matmul)
        patch.setattr(W, "scatter_tiles", forbidden)
        dx, dw, db = backend.conv2d_backward(dy, cache, compute_dx=False)
        assert len(gemms) == chunks  # dU only
        patch.undo()
        gemms.clear()
        patch.setattr(np, "matmul", counted_matmul)
        patch.setattr(W, "gather_tiles", only_dy(W.gather_tiles))
        dx_only, no_dw, no_db = backend.conv2d_backward(dy, cache, compute_dw=False)
        assert len(gemms) == chunks  # dV only
    assert dx is None and no_dw is None and no_db is None
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)
    np.testing.assert_array_equal(dx_only, dx_full)
    assert backend.conv2d_backward(dy, cache, compute_dx=False, compute_dw=False) == \
        (None, None, None)


# --------------------------------------------------------------------------- workspace cap

@pytest.mark.parametrize("keep_V", [True, False], ids=["V kept", "V recomputed"])
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_chunked_batch(backend, keep_V, monkeypatch):
    """A small cap splits the batch; V is kept when the whole batch's V fits in half the cap."""
    rng = np.random.default_rng(9)
    x, w, b = make(rng, N=7, C=3, H=9, W=8, F=4, kh=3, kw=3, dtype=np.float32)
    geo = conv2d_geometry(x, w, b, padding=1)
    per_tile = (backend.m + 2) ** 2 * (-(-9 // backend.m)) * (-(-8 // backend.m)) * 4
    v_image, m_image = per_tile * 3, per_tile * 4  # V and M bytes of one image
    cap = 2 * 7 * v_image + 2 * (v_image + m_image) if keep_V else 3 * (2 * v_image + m_image)
    monkeypatch.setattr(backend, "MAX_WORKSPACE_BYTES", cap)
    step, kept = backend.plan(geo, 4)
    assert kept == keep_V and 1 < step < 7
    check(backend, x, w, b, rng, padding=1)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_cap_changed_between_forward_and_backward(backend, monkeypatch):
    """Backward follows forward's chunks (V's tile order is per chunk), whatever the cap now."""
    rng = np.random.default_rng(4)
    x, w, b = make(rng, N=5, C=3, H=8, W=8, F=4, kh=3, kw=3, dtype=np.float32)
    y, cache = backend.conv2d_forward(x, w, b, padding=1)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    expected = backend.conv2d_backward(dy, cache)
    for cap in (1, 3 * x[0].nbytes * 36):
        monkeypatch.setattr(backend, "MAX_WORKSPACE_BYTES", cap)
        for got, want in zip(backend.conv2d_backward(dy, cache), expected):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cap_mib", [64, 2, 0.5], ids=["default", "2MiB", "0.5MiB"])
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_peak_workspace_stays_under_the_cap(backend, cap_mib, monkeypatch):
    """Forward + backward of a 16-image convnet.conv2 allocate at most the cap plus what does
    not scale with the batch: U, dU and its per-chunk product, their float64 copies (w-sized
    times positions), and 64 KiB of Python objects. (Numba's scratch is per job, not traced.)"""
    cap = int(cap_mib * 2**20)
    monkeypatch.setattr(backend, "MAX_WORKSPACE_BYTES", cap)
    rng = np.random.default_rng(8)
    x, w, b = make(rng, N=16, C=32, H=14, W=14, F=64, kh=3, kw=3, dtype=np.float32)
    dy = rng.standard_normal((16, 64, 14, 14)).astype(np.float32)

    def both():
        y, cache = backend.conv2d_forward(x, w, b, padding=1)
        return (y, *backend.conv2d_backward(dy, cache))
    both()
    positions = (backend.m + 2) ** 2
    fixed = positions * w[:, :, 0, 0].nbytes * (1 + 2 + 2 * 2) + 64 * 1024  # U, dU x2, f64 x2
    used = workspace_bytes(both)
    assert 0 < used <= cap + fixed, f"peak {used} B > cap {cap} B + {fixed} B"
    step, _ = backend.plan(conv2d_geometry(x, w, b, padding=1), 4)
    v_image = positions * 32 * -(-14 // backend.m) ** 2 * 4
    assert used >= step * v_image, "the measurement does not see the workspace"


# --------------------------------------------------------------------------- unsupported

@pytest.mark.parametrize("params, kernel, message", [
    (dict(stride=(2, 1)), (3, 3), "winograd needs stride 1, got stride (2, 1)"),
    (dict(stride=2), (3, 3), "winograd needs stride 1, got stride (2, 2)"),
    (dict(dilation=2), (3, 3), "winograd needs dilation 1, got dilation (2, 2)"),
    (dict(), (1, 1), "winograd needs kernels of at least 2x2"),
    (dict(), (1, 3), "winograd needs kernels of at least 2x2"),
])
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_unsupported(backend, params, kernel, message):
    x = np.zeros((1, 2, 12, 12), np.float32)
    w = np.zeros((2, 2, *kernel), np.float32)
    geo = conv2d_geometry(x, w, **params)
    assert message in backend.unsupported(geo)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        backend.conv2d_forward(x, w, **params)


@pytest.mark.parametrize("dtype", DTYPES, ids=("f32", "f64"))
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_kernel_size_limit(backend, dtype):
    """Tiles up to 6 per axis in float32 (F(2,5), F(4,3)), 8 in float64 (F(2,7), F(4,5))."""
    largest = largest_kernel(backend, dtype)
    assert largest == {(2, np.float32): 5, (4, np.float32): 3,
                       (2, np.float64): 7, (4, np.float64): 5}[backend.m, dtype]
    x = np.zeros((1, 1, 12, 12), dtype)
    ok = conv2d_geometry(x, np.zeros((1, 1, largest, 2), dtype))
    assert backend.unsupported(ok) is None
    w = np.zeros((1, 1, 2, largest + 1), dtype)
    with pytest.raises(ValueError, match=f"supports kernels up to {largest}x{largest} in "
                                         f"{np.dtype(dtype)}"):
        backend.conv2d_forward(x, w)


# --------------------------------------------------------------------------- non-finite values

@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_non_finite_input_poisons_the_tiles_that_read_it(backend, value):
    """Documented behaviour: a non-finite x value makes non-finite every output that naive makes
    non-finite, possibly all other outputs of the tiles that read it, and nothing else: outside
    those tiles the result is bit for bit the one with a 0 in its place."""
    rng = np.random.default_rng(2)
    x, w, b = make(rng, N=1, C=2, H=13, W=13, F=2, kh=3, kw=3)
    x_zero = x.copy()
    x[0, 1, 6, 7] = value
    y, _ = backend.conv2d_forward(x, w, b, padding=1)
    y_zero, _ = backend.conv2d_forward(x_zero, w, b, padding=1)
    y_naive, _ = NAIVE.conv2d_forward(x, w, b, padding=1)
    m, n = backend.m, backend.m + 2

    def outputs_of_tiles_reading(padded_index, size):
        mask = np.zeros(size, bool)
        for t in range(-(-size // m)):
            if t * m <= padded_index < t * m + n:
                mask[t * m:t * m + m] = True
        return mask
    touched = outputs_of_tiles_reading(6 + 1, 13)[:, None] & outputs_of_tiles_reading(7 + 1, 13)
    assert np.all(~np.isfinite(y_naive) <= ~np.isfinite(y)), "lost a non-finite output"
    assert np.all(np.isfinite(y[:, :, ~touched])), "a tile that never read the value"
    np.testing.assert_array_equal(y[:, :, ~touched], y_zero[:, :, ~touched])
