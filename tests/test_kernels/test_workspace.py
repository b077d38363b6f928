"""im2col's MAX_WORKSPACE_BYTES: chunking the batch changes neither the results nor, beyond
what is documented, the memory.

The cap governs the per-call *workspace* of im2col's conv, per image:

    columns  C*kh*kw*Ho*Wo  +  dcols  C*kh*kw*Ho*Wo  +  GEMM output  F*Ho*Wo      (elements)

(`per_image_bytes` below, written from im2col's docstring, not taken from its code). A batch
whose workspace exceeds the cap is processed in chunks of max(1, cap // per_image) images;
a single image that exceeds the cap on its own is still processed, alone.

Results: chunking over the batch changes only which images share one GEMM call. With
small-integer data every partial sum is an exact integer in float32/float64, so any grouping
gives the uncapped result bit for bit (y, dx, dw, db) - the strongest check, it catches any
misplaced image or offset. With real-valued data the GEMM kernel (blocking, edge kernels)
may depend on the number of columns, so y and dx may differ in the last bits, and dw is the
sum of the chunks' partial products (a different summation order): all three are checked
with the rounding bound of kernels.conformance.bounds. db is dy.sum over the whole batch in both cases:
bit-for-bit equal.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import kernels.backends.im2col as im2col
from kernels.conformance.bounds import assert_within_rounding, conv_reduction_lengths
from kernels.bench import workspace_bytes
from kernels.cases import CONV_CASES
from kernels.shapes import conv2d_geometry

UNCAPPED = 2**62


def per_image_bytes(geo, itemsize) -> int:
    """Workspace of one image: columns + dcols (C*kh*kw*Ho*Wo each) + GEMM output F*Ho*Wo."""
    pixels = geo.Ho * geo.Wo
    return itemsize * (2 * geo.C * geo.kh * geo.kw * pixels + geo.F * pixels)


def images_per_chunk(cap, per_image, N) -> int:
    return max(1, min(N, cap // per_image))


@pytest.fixture
def im2col_calls(monkeypatch):
    """Batch size of every im2col() gather made by the conv (forward and backward)."""
    calls = []
    real = im2col.im2col

    def spy(xp, *args):
        calls.append(xp.shape[0])
        return real(xp, *args)
    monkeypatch.setattr(im2col, "im2col", spy)
    return calls


def run_conv(x, w, b, dy, params, cap, monkeypatch):
    """(y, dx, dw, db, cache) of im2col under `cap`."""
    monkeypatch.setattr(im2col, "MAX_WORKSPACE_BYTES", cap)
    y, cache = im2col.conv2d_forward(x, w, b, **params)
    dx, dw, db = im2col.conv2d_backward(dy, cache)
    return y, dx, dw, db, cache


# ------------------------------------------------------------------ results under a cap

# name: (N, C, H, W, F, (kh, kw), params, bias, dtype)
CONFIGS = {
    "convnet.conv2-N6": (6, 32, 14, 14, 64, (3, 3), dict(padding=1), True, np.float32),
    "grouped-strided-dilated-nobias": (5, 4, 9, 9, 6, (3, 2),
                                       dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1),
                                            groups=2), False, np.float64),
}

# cap as a function of one image's workspace
CAPS = {
    "zero": lambda per: 0,
    "below-one-image": lambda per: per - 1,
    "one-image": lambda per: per,
    "two-images": lambda per: 2 * per + per // 2,
    "four-images-uneven": lambda per: 4 * per + 1,
}


def _arrays(config, rng, ints):
    N, C, H, W, F, (kh, kw), params, bias, dtype = config
    groups = params.get("groups", 1)

    def draw(shape):
        a = rng.integers(-3, 4, size=shape) if ints else rng.standard_normal(shape)
        return a.astype(dtype)
    x, w = draw((N, C, H, W)), draw((F, C // groups, kh, kw))
    b = draw((F,)) if bias else None
    geo = conv2d_geometry(x, w, b, **params)
    return x, w, b, draw(geo.y_shape), geo


@pytest.mark.parametrize("cap_name", list(CAPS))
@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_chunked_equals_uncapped_exactly_on_integer_data(config_name, cap_name, monkeypatch,
                                                         im2col_calls):
    """Integer-valued data: every sum is exact, so y, dx, dw, db under the cap equal the
    uncapped results bit for bit; and the batch really was split as the cap says (forward
    gathers each chunk once, backward rebuilds each chunk's columns)."""
    config = CONFIGS[config_name]
    x, w, b, dy, geo = _arrays(config, np.random.default_rng(20), ints=True)
    params = config[6]
    per = per_image_bytes(geo, x.itemsize)
    cap = CAPS[cap_name](per)
    step = images_per_chunk(cap, per, geo.N)
    expected_sizes = [min(step, geo.N - n) for n in range(0, geo.N, step)]
    assert len(expected_sizes) > 1, "the cap must force several chunks here"

    ref = run_conv(x, w, b, dy, params, UNCAPPED, monkeypatch)
    assert im2col_calls == [geo.N], "uncapped: one gather in forward, columns kept for backward"
    assert ref[4][2] is not None
    im2col_calls.clear()

    got = run_conv(x, w, b, dy, params, cap, monkeypatch)
    assert im2col_calls == expected_sizes * 2, "forward, then backward, chunk by chunk"
    assert got[4][2] is None, "columns must not be kept when the batch is chunked"
    for name, g, r in zip(("y", "dx", "dw", "db"), got[:4], ref[:4]):
        if r is None:
            assert g is None, name
            continue
        assert g.dtype == x.dtype and g.shape == r.shape, name
        np.testing.assert_array_equal(g, r, err_msg=f"{name} under cap {cap_name}",
                                      strict=True)


@pytest.mark.parametrize("cap_name", ["below-one-image", "two-images", "four-images-uneven"])
@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_chunked_matches_uncapped_within_rounding(config_name, cap_name, monkeypatch):
    """Real-valued data: y, dx and dw under the cap are within the rounding bound of the
    uncapped result; db is bit-for-bit equal (the same dy.sum in both).

    The reference is the uncapped result of the same dtype. Both it and the capped result are
    within gamma_K * scale of the exact value (K the reduction length, scale = sum|terms|,
    computed in float64 on |x|, |w|, |dy|), so they differ by at most 2 gamma_K * scale,
    which is within kernels.conformance.bounds' C_BOUND * K * eps * scale (C_BOUND = 2 and gamma_K ~
    K * eps / 2)."""
    config = CONFIGS[config_name]
    x, w, b, dy, geo = _arrays(config, np.random.default_rng(21), ints=False)
    params = config[6]
    cap = CAPS[cap_name](per_image_bytes(geo, x.itemsize))
    ref = run_conv(x, w, b, dy, params, UNCAPPED, monkeypatch)
    got = run_conv(x, w, b, dy, params, cap, monkeypatch)

    def abs64(a):
        return None if a is None else np.abs(a.astype(np.float64))
    y_scale, abs_cache = im2col.conv2d_forward(abs64(x), abs64(w), abs64(b), **params)
    scales = (y_scale, *im2col.conv2d_backward(abs64(dy), abs_cache))
    K = conv_reduction_lengths(x, w, b, geo.y_shape, geo.groups)
    for name, g, r, scale in zip(("y", "dx", "dw"), got, ref, scales):
        assert_within_rounding(g, r.astype(np.float64), scale, K[name], x.dtype,
                               f"{name} under cap {cap_name}")
    if b is None:
        assert got[3] is None
    else:
        np.testing.assert_array_equal(got[3], ref[3], strict=True)


def test_single_image_over_the_cap_is_processed_alone(monkeypatch, im2col_calls):
    """A cap of 1 byte (far below one image's workspace): every image is its own chunk, and
    the results are still the uncapped ones (integer data: exactly). With one image in the
    batch it is processed whole and its columns are kept for backward."""
    config = CONFIGS["convnet.conv2-N6"]
    x, w, b, dy, geo = _arrays(config, np.random.default_rng(22), ints=True)
    assert per_image_bytes(geo, x.itemsize) > 1
    ref = run_conv(x, w, b, dy, config[6], UNCAPPED, monkeypatch)
    im2col_calls.clear()
    got = run_conv(x, w, b, dy, config[6], 1, monkeypatch)
    assert im2col_calls == [1] * (2 * geo.N)
    for name, g, r in zip(("y", "dx", "dw", "db"), got[:4], ref[:4]):
        np.testing.assert_array_equal(g, r, err_msg=name, strict=True)

    im2col_calls.clear()
    one = run_conv(x[:1], w, b, dy[:1], config[6], 1, monkeypatch)
    assert im2col_calls == [1], "one image: one gather, reused by backward"
    assert one[4][2] is not None
    ref_one = run_conv(x[:1], w, b, dy[:1], config[6], UNCAPPED, monkeypatch)
    for name, g, r in zip(("y", "dx", "dw", "db"), one[:4], ref_one[:4]):
        np.testing.assert_array_equal(g, r, err_msg=f"N=1 {name}", strict=True)


def test_cap_changed_between_forward_and_backward(monkeypatch):
    """The chunking of a forward pass decides its backward: forward with the columns kept
    (one chunk), then a smaller cap before backward, must still give the same gradients."""
    config = CONFIGS["convnet.conv2-N6"]
    x, w, b, dy, geo = _arrays(config, np.random.default_rng(23), ints=True)
    ref = run_conv(x, w, b, dy, config[6], UNCAPPED, monkeypatch)
    monkeypatch.setattr(im2col, "MAX_WORKSPACE_BYTES", UNCAPPED)
    _, cache = im2col.conv2d_forward(x, w, b, **config[6])
    monkeypatch.setattr(im2col, "MAX_WORKSPACE_BYTES", 1)
    got = im2col.conv2d_backward(dy, cache)
    for name, g, r in zip(("dx", "dw", "db"), got, ref[1:4]):
        np.testing.assert_array_equal(g, r, err_msg=name, strict=True)


# ------------------------------------------------------------------ peak memory

def allowed_workspace(geo, w, itemsize, cap) -> tuple[int, dict]:
    """Upper bound on bench.workspace_bytes (peak traced allocation minus y, dx, dw, db) of
    one im2col forward+backward under `cap`, and its parts:

    - chunk: the capped workspace itself, images_per_chunk * per_image (equals at most the
      cap, or one image's workspace when a single image exceeds the cap);
    - xp: the zero-padded copy of x, kept in the cache for backward (none without padding:
      pad_nchw returns x itself);
    - dxp: the gradient w.r.t. the padded input, accumulated by col2im over all chunks, then
      cropped into dx (which is a result, not counted);
    - dw_partial: one chunk's dW product before it is added into dw (w-sized);
    - ufunc_buffers: NumPy's iteration buffers for col2im's strided in-place adds (up to
      bufsize elements for each of its three operands);
    - python: 64 KiB for Python objects (geometry, slices, frames) and tracemalloc's own.

    The transposed dy of a chunk is the "GEMM output" term of the per-image workspace (it
    plays that role in backward), so it is inside `chunk`.
    """
    per = per_image_bytes(geo, itemsize)
    padded = geo.N * geo.C * geo.Hp * geo.Wp * itemsize
    parts = dict(chunk=images_per_chunk(cap, per, geo.N) * per,
                 xp=padded if any(geo.pad) else 0, dxp=padded, dw_partial=w.nbytes,
                 ufunc_buffers=3 * np.getbufsize() * itemsize, python=64 * 1024)
    return sum(parts.values()), parts


# (case, batch, cap in images of workspace, or None for the default cap)
PEAK_CASES = [
    pytest.param("convnet.conv2", 16, None, id="conv2-default-cap-one-chunk"),
    pytest.param("convnet.conv2", 16, 0.5, id="conv2-cap-below-one-image"),
    pytest.param("convnet.conv2", 16, 4, id="conv2-4-images"),
    pytest.param("convnet.conv2", 16, 5.01, id="conv2-5-images-uneven"),
    pytest.param("convnet.conv1", 16, 4, id="conv1-4-images"),
    pytest.param("lenet5.c3", 16, 0.5, id="lenet5.c3-unpadded-cap-below-one-image"),
    pytest.param("lenet5.c3", 16, None, id="lenet5.c3-unpadded-default-cap"),
]


@pytest.mark.parametrize("name, batch, images", PEAK_CASES)
def test_peak_workspace_stays_under_the_cap(name, batch, images, monkeypatch):
    """tracemalloc's peak of forward+backward, minus the results, is at most the capped
    workspace plus the arrays the algorithm needs whatever the cap (see allowed_workspace)."""
    case = dataclasses.replace(CONV_CASES[name], N=batch)
    x, w, b, dy = case.arrays(np.float32, seed=3)
    geo = case.geometry(x, w, b)
    per = per_image_bytes(geo, x.itemsize)
    cap = im2col.MAX_WORKSPACE_BYTES if images is None else int(images * per)
    monkeypatch.setattr(im2col, "MAX_WORKSPACE_BYTES", cap)

    def both():
        y, cache = im2col.conv2d_forward(x, w, b, **case.params())
        return (y, *im2col.conv2d_backward(dy, cache))
    both()  # first call outside the measurement: lazy imports, caches
    used = workspace_bytes(both)
    allowed, parts = allowed_workspace(geo, w, x.itemsize, cap)
    assert 0 < used <= allowed, f"peak workspace {used} B > allowed {allowed} B = {parts}"
    # The measurement sees the workspace at all: at least one chunk's columns.
    chunk_images = images_per_chunk(cap, per, geo.N)
    assert used >= chunk_images * x.itemsize * geo.C * geo.kh * geo.kw * geo.Ho * geo.Wo


# ------------------------------------------------------------------ the default cap

MNIST_CONV = [n for n, c in CONV_CASES.items() if c.mnist]


def test_default_cap_is_64_mib():
    assert im2col.MAX_WORKSPACE_BYTES == 64 * 2**20


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", MNIST_CONV)
def test_default_cap_fits_the_cnn_layers_in_one_chunk(name, dtype):
    """Every conv layer of the three CNNs, at the training batch of 64, fits the default cap:
    one chunk, so the cap costs nothing in training."""
    case = CONV_CASES[name]
    assert case.N == 64
    geo = case.geometry()
    itemsize = np.dtype(dtype).itemsize
    assert case.N * per_image_bytes(geo, itemsize) <= 64 * 2**20
    assert im2col._chunks(geo, itemsize) == [slice(0, case.N)]


@pytest.mark.parametrize("name", MNIST_CONV)
def test_default_cap_keeps_columns_for_backward(name, im2col_calls):
    """Behaviourally, under the default cap on the real layer (batch 64, float32): forward
    gathers the whole batch once and backward reuses those columns (no second gather)."""
    case = CONV_CASES[name]
    x, w, b, dy = case.arrays(np.float32)
    y, cache = im2col.conv2d_forward(x, w, b, **case.params())
    assert cache[2] is not None
    im2col.conv2d_backward(dy, cache)
    assert im2col_calls == [case.N]
