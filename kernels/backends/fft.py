"""FFT backend: convolution as pointwise products of spectra (Mathieu, Henaff & LeCun 2013;
Vasilache et al., fbfft, 2014), forward and both backward passes, with real FFTs.

Maths, along one axis (2-D applies it to rows and columns). xp, the padded input, has Hp
points; the dilated kernel wd (zeros between the taps: its spectrum is exact and costs nothing
more) spans K = dilation*(kh-1) + 1; the stride-1 output has Ho1 = Hp - K + 1 points. On a grid
of P points DFT[u](k) = sum_m u[m] e^{-2 pi i k m/P}, and products of DFTs are circular
convolutions (*). Two facts do all the work:
  (R) if u[m] = v[(s - m) mod P], v real, then DFT[u] = e^{-2 pi i k s/P} conj(DFT[v]): a
      conjugated spectrum is a reversed signal, the phase a circular shift by s;
  (L) a circular convolution equals the linear one at every index whose terms all have
      indices in [0, P): then nothing wraps around.
Forward: y[i] = sum_p wd[p] xp[i+p] convolves xp with the reversed kernel wr[m] = wd[K-1-m]:
  y[i] = (xp * wr)[i + K-1], i < Ho1. Its terms xp[j] wr[t-j] have 0 <= j <= t <= Hp-1, so
  P >= Hp suffices (L), although the linear convolution is Hp + K - 1 long.
Backward-data: dxp[t] = sum_i dy[i] wd[t-i], t < Ho1 + K - 1 = Hp, a *full* convolution. With
  dyr[m] = dy[Ho1-1-m], (dyr * wr) is dxp reversed: dxp[t] = (dyr * wr)[Hp-1-t]; terms at
  indices <= Hp-1 < P: nothing wraps.
Backward-weights: dwd[p] = sum_i dy[i] xp[i+p], p < K: dwd[p] = (xp * dyr)[p + Ho1-1], indices
  <= K-1 + Ho1-1 = Hp-1 < P again.
So one grid P >= Hp, Q >= Wp serves all three and the spectra X of xp, Wr of wr, DYr of dyr
give Y = X Wr, dXr = DYr Wr, dW = DYr X (each a sum over channels per frequency) with no
conjugation anywhere: the conj(W) of a correlation and conj(DY), conj(X) of the adjoints are,
by (R), the reversals above, free in the strided copies that fill the FFT buffers and undone by
the crops. P, Q: the smallest sizes >= Hp, Wp that pocketfft factors into 2, 3, 5 (real axis)
or 2, 3, 5, 7, 11 (complex axis) (scipy.fft.next_fast_len): no Bluestein, no large radix.
X, Y, DYr, dXr are FFTs of whole planes (scipy.fft, one thread: see Threads). Wr and the
kh*kw taps of dw are kh*kw points of a P x Q grid: DFT-matrix products (fft_weights.py, two
small GEMMs, 4-9x faster than FFTs of the F*Cg mostly-zero planes, measured), so backward costs
one FFT (dy) and one inverse FFT (dx) of whole planes, forward one of each.
Stride: exact, the stride-1 result read every s-th point; backward zero-stuffs dy. The FFTs
cost what the grid costs: a stride saves nothing while direct methods get sh*sw times cheaper
(AlexNet's stride 4: ~6x slower than im2col; folding the spectrum would help, not done).

Per frequency and group the channel sums are GEMMs: Y (n x Fg) = X (n x Cg) @ Wr (Cg x Fg),
dXr = DYr @ Wr^T, dW (Fg x Cg) = DYr^T @ X: np.matmul with the frequency as batch axis (einsum
and broadcasting measured slower, except 1-wide depthwise products: `_products`). Buffers
are (P, Q, n, channels) so each frequency's matrix is contiguous (strided by group, still
BLAS-able) and no spectrum is ever transposed: the NCHW <-> HWNC transposes ride on the
padding copy and the crop copy.

Speed. im2col does 2*kh*kw real flops per (pixel, c, f); FFT 8 per (frequency, c, f) on
~Hp*Wp/2 frequencies whatever the kernel, plus transforms of N*(C + F) planes, ~2.5 P Q
log2(P Q) flops each at a few GF/s (pocketfft) against tens for GEMMs. Measured (the large
set, the map): FFT wins from 5x5 with >= 4 channels each way (0.3-0.8x im2col's time; 9x9
C32: 0.23x), loses on 3x3 (convnet.conv2: 1.6x), on image inputs unless the kernel is large
(C=3: from 9x9; C=1: not up to 11x11) and on strides (AlexNet's stride 4: 6x). scipy.fft,
not numpy.fft: the same pocketfft, but numpy transforms one axis and one line at a time:
1.4-1.6x slower end to end (5x on rfftn alone).
Memory: spectra are complex, P*(Q/2+1) per plane (`workspace`). The batch is chunked under
MAX_WORKSPACE_BYTES (X recomputed in backward when chunked), but one image's planes and the
weight-side spectra (Wr, dW: F*Cg*P*(Q/2+1) complex each) do not shrink: ResNet-50's and
VGG-16's layers need 115 MiB - 3.8 GiB per call (`workspace_estimate`); auto skips fft there.

Threads: transforms on one thread; GEMMs on BLAS's pinned threads, or on one when a call
does fewer than BLAS_ONE_THREAD_BELOW flops (docs/backends.md, "BLAS threads"). scipy.fft's
workers=2 splits a call between threads that must all finish: on 2 cores it was slower even
idle (rfftn of (16, 16, 64, 32): 1.4 vs 4.0 ms), and under load one waiting for a core stalls
the call (load 8: 1.5 vs 5.3 ms; a report's layer: 10 vs 1,172 ms). One worker degrades like
the others.

NaN/inf: a non-finite value in an input plane reaches every frequency, hence every output of
every plane it is summed into (x[n, c]: all of y[n, f in its group]; w[f, c]: all of y[:, f]);
the naive definition confines it to the windows that touch it. Not emulated.

Errors are normwise, not componentwise: an FFT spreads each rounding error over the whole
plane (about eps * the plane's rms), so output elements with a small sum|terms| - borders,
covered by few windows - see a larger error relative to it than a direct sum would give.
The tests' bound, per output plane, is derived in kernels/conformance/fft_bound.py.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from ..shapes import check_grad, conv2d_geometry, quiet_nonfinite
from ..support import blas
from ..support.sizes import WORKSPACE_CAP, ceil_div
from .fft_weights import _kernel_spectrum, _spans, _weight_taps

name = "fft"

#: Cap on the workspace (FFT buffers and spectra) of one conv call, in bytes.
MAX_WORKSPACE_BYTES = WORKSPACE_CAP
#: The gradient's spectrum is accumulated over batch chunks in this many frequency blocks.
DW_BLOCKS = 8
#: A non-finite input value reaches every frequency, so it spreads through whole planes
#: (the naive definition confines it to the windows that touch it): see the docstring.
NONFINITE_SPREADS = True
#: Rounding: normwise per output plane, the bound of kernels/conformance/fft_bound.py.
ERROR_MODEL = "fft"


#: Below this many flops per GEMM call (`gemm_flops`) a pass runs BLAS on one thread.
BLAS_ONE_THREAD_BELOW = 2_000_000  # where 2 threads start to pay: docs/backends.md


def gemm_flops(geo) -> int:
    """Real flops of one of the pass's GEMM calls: a complex (n x Cg) @ (Cg x Fg) per frequency
    and group, n the images of a chunk (backward's products have the same three sizes)."""
    return 8 * workspace(geo)["chunk"] * geo.Cg * geo.Fg


def unsupported(geo) -> str | None:
    """None: every geometry conv2d_geometry accepts is computed exactly (stride by
    subsampling, dilation by a dilated kernel, any padding, groups)."""
    return None


def fft_grid(geo) -> tuple[int, int]:
    """(P, Q): the smallest fast sizes >= (Hp, Wp); Q is the halved (real) axis."""
    return scipy.fft.next_fast_len(geo.Hp, real=False), scipy.fft.next_fast_len(geo.Wp, real=True)


def workspace(geo) -> dict:
    """Bytes of one call's workspace (an upper bound, outputs excluded): `fixed` (weight-side
    spectra) + `chunk` images of `per_image` (an FFT buffer and a spectrum of the input side and
    of the output side), `chunk` the most images under MAX_WORKSPACE_BYTES but >= 1: `total`
    exceeds the cap when the fixed part alone does."""
    P, Q = fft_grid(geo)
    isz, half = geo.dtype.itemsize, 2 * (Q // 2 + 1)  # a complex value is 2 reals
    # Wr and dW spectra, plus the larger of a block of dW (chunks) and a partial DFT's temporary.
    fixed = isz * geo.F * geo.Cg * half * (2 * P + max(ceil_div(P, DW_BLOCKS), geo.kh))
    per_image = isz * P * (Q + half) * (geo.F + geo.C)
    chunk = int(max(1, min(geo.N, (MAX_WORKSPACE_BYTES - fixed) // per_image)))
    return dict(fixed=fixed, per_image=per_image, chunk=chunk, total=fixed + chunk * per_image)


def workspace_estimate(geo) -> int:
    """Bytes of one call's workspace, an upper bound (over the cap: auto skips fft)."""
    return workspace(geo)["total"]


def _workers():
    """scipy.fft's threads: one, whatever the pinned count (see "Threads" in the module
    docstring: more workers made the transforms slower, and 100x slower under load)."""
    return 1


def _rfft2(buf):
    return scipy.fft.rfftn(buf, axes=(0, 1), workers=_workers())


def _irfft2(spec, P, Q):
    return scipy.fft.irfftn(spec, s=(P, Q), axes=(0, 1), workers=_workers())


def _by_group(spec, groups):
    """(P, Qh, n, G*k) spectrum -> (P*Qh, G, n, k) view: one matrix per frequency and group."""
    P, Qh, n, channels = spec.shape
    return spec.reshape(P * Qh, n, groups, channels // groups).transpose(0, 2, 1, 3)


def _products(a, b, out=None):
    """a @ b per frequency and group, (K, G, m, r) @ (K, G, r, s). Depthwise layers make these
    1-wide: BLAS calls on 1 x 1 matrices cost ~7x a broadcast product (measured), so r = 1
    (outer products) and m = s = 1 (dot products) are done elementwise."""
    if a.shape[-1] == 1:
        return np.multiply(a, b, out=out)
    if a.shape[-2] == 1 and b.shape[-1] == 1:
        return np.sum(a.swapaxes(-1, -2) * b, axis=-2, keepdims=True, out=out)
    return np.matmul(a, b, out=out)


def _input_spectrum(x, geo, P, Q):
    """X (P, Qh, n, C): x zero-padded to the P x Q grid at offset (top, left), i.e. xp."""
    top, _, left, _ = geo.pad
    buf = np.zeros((P, Q, x.shape[0], geo.C), dtype=geo.dtype)
    buf[top:top + geo.H, left:left + geo.W] = x.transpose(2, 3, 0, 1)
    return _rfft2(buf)


def _grad_spectrum(dy, geo, P, Q):
    """DYr (P, Qh, n, F): dy zero-stuffed onto the stride-1 grid, reversed: dyr[m] = dy[Ho1-1-m]."""
    _, _, Ho1, Wo1 = _spans(geo)
    (sh, sw) = geo.stride
    buf = np.zeros((P, Q, dy.shape[0], geo.F), dtype=geo.dtype)
    buf[Ho1 - 1::-1, Wo1 - 1::-1][::sh, ::sw] = dy.transpose(2, 3, 0, 1)
    return _rfft2(buf)


def _chunks(geo):
    step = workspace(geo)["chunk"]
    return [slice(n, min(n + step, geo.N)) for n in range(0, geo.N, step)]


def chunk_count(geo, itemsize=None) -> int:
    """How many batch chunks a conv call of this geometry takes under the cap."""
    return len(_chunks(geo))


@quiet_nonfinite
def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Y = X Wr per frequency, chunk by chunk; X is kept for backward when it fits."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    reason = unsupported(geo)
    if reason is not None:
        raise ValueError(f"fft backend: {reason}")
    with blas.gemm_threads(gemm_flops(geo), BLAS_ONE_THREAD_BELOW):
        P, Q = fft_grid(geo)
        KH, KW, _, _ = _spans(geo)
        (sh, sw), G = geo.stride, geo.groups
        w_spec = _kernel_spectrum(w, geo, P, Q)
        y = np.empty(geo.y_shape, dtype=geo.dtype)
        chunks = _chunks(geo)
        kept_x_spec = None
        for batch in chunks:
            x_spec = _input_spectrum(x[batch], geo, P, Q)
            y_spec = np.empty(x_spec.shape[:3] + (geo.F,), dtype=x_spec.dtype)
            _products(_by_group(x_spec, G), w_spec, out=_by_group(y_spec, G))
            y_grid = _irfft2(y_spec, P, Q)  # (P, Q, n, F): y[i] sits at row KH-1 + i*sh
            del y_spec  # free before the crop copy: keeps the peak at two big arrays
            y[batch] = y_grid[KH - 1:geo.Hp:sh, KW - 1:geo.Wp:sw].transpose(2, 3, 0, 1)
            if len(chunks) == 1:
                kept_x_spec = x_spec  # the whole batch fits the cap: reuse it in backward
            del x_spec, y_grid
        if b is not None:
            y += b[:, None, None]
        return y, (x, w_spec, kept_x_spec, geo)


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """dXr = DYr Wr and dW = DYr X per frequency, from one transform of dy."""
    x, w_spec, kept_x_spec, geo = cache
    check_grad(dy, geo)
    with blas.gemm_threads(gemm_flops(geo), BLAS_ONE_THREAD_BELOW):
        P, Q = fft_grid(geo)
        G, top, left = geo.groups, geo.pad[0], geo.pad[2]
        dx = np.empty(geo.x_shape, dtype=geo.dtype) if compute_dx else None
        dw_spec = None
        chunks = [slice(0, geo.N)] if kept_x_spec is not None else _chunks(geo)
        for batch in (chunks if compute_dx or compute_dw else []):
            dy_spec = _grad_spectrum(dy[batch], geo, P, Q)
            dy_groups = _by_group(dy_spec, G)
            if compute_dx:
                dx_spec = np.empty(dy_spec.shape[:3] + (geo.C,), dtype=dy_spec.dtype)
                _products(dy_groups, w_spec.swapaxes(-1, -2), out=_by_group(dx_spec, G))
                dx_grid = _irfft2(dx_spec, P, Q)  # dxp reversed: dxp[t] at row Hp-1-t
                del dx_spec
                dx[batch] = dx_grid[geo.Hp - 1 - top::-1, geo.Wp - 1 - left::-1][
                    :geo.H, :geo.W].transpose(2, 3, 0, 1)
                del dx_grid
            if compute_dw:
                x_spec = kept_x_spec if kept_x_spec is not None else \
                    _input_spectrum(x[batch], geo, P, Q)
                x_groups = _by_group(x_spec, G)
                # Summing the chunks' spectra (not their inverses): one inverse at the end.
                if dw_spec is None:
                    dw_spec = _products(dy_groups.swapaxes(-1, -2), x_groups)
                else:  # in DW_BLOCKS frequency blocks: a whole chunk's part would double the memory
                    step = ceil_div(len(dw_spec), DW_BLOCKS)
                    for k in range(0, len(dw_spec), step):
                        dw_spec[k:k + step] += _products(dy_groups[k:k + step].swapaxes(-1, -2),
                                                          x_groups[k:k + step])
                del x_spec, x_groups
            del dy_spec, dy_groups
        dw = db = None
        if compute_dw:
            dw = _weight_taps(dw_spec, geo, P, Q)
            db = dy.sum(axis=(0, 2, 3)) if geo.has_bias else None
        return dx, dw, db


# Pooling is not a convolution: the registry lends this backend the shared pooling
# (kernels.backends.pooling, the numba backend's).
POOLING_FROM = "numba"
