"""Strided backend: zero-copy window views contracted with tensordot (no Python pixel loops).

`numpy.lib.stride_tricks.sliding_window_view` turns the padded input xp (N, C, Hp, Wp) into
a view X (N, C, Ho, Wo, kh, kw) with X[n, c, i, j, p, q] = xp[n, c, i*sh + p*dh, j*sw + q*dw]
by striding over the same memory (slicing [::sh] picks the strides, [::dh] the dilation). The
naive definition then becomes one contraction per group g:

    y[n, f, i, j] = sum_{c, p, q} X[n, c, i, j, p, q] * w[f, c, p, q]        (tensordot)
    dw[f, c, p, q] = sum_{n, i, j} dy[n, f, i, j] * X[n, c, i, j, p, q]       (tensordot)

dx is the adjoint of the window gather, computed as a *transposed convolution*: spread dy onto
a grid with sh-1 / sw-1 zeros between samples (undoing the stride), pad it by d*(k-1) on every
side, and correlate it with the kernel flipped in both spatial axes and with F and C swapped:

    dxp[n, c, a, b] = sum_{f, p, q} dyz[n, f, a + p*dh, b + q*dw] * w[f, c, kh-1-p, kw-1-q]

That is again a window view and a tensordot, so backward needs no pixel loop either. Rows of
xp that no window reached (when (Hp - span) is not a multiple of the stride) get zero. (A
non-finite w would meet the stuffed zeros - 0 * inf = NaN - so it takes a per-tap scatter.)

Why it beats naive: one BLAS call per group instead of N*F*Ho*Wo Python iterations. Its cost:
tensordot must copy the non-contiguous view into a (N*Ho*Wo, Cg*kh*kw) matrix first - an
implicit im2col, kh*kw times the input size - and the zero-stuffed dy is sh*sw times dy.

Pooling uses the same window view: max/argmax over each window (the first maximum wins ties,
as in PyTorch), a bincount scatter for the max-pool gradient, and for average pooling a sum
over the window and, backward, one shifted add per kernel tap.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..shapes import (check_grad, conv2d_geometry, pad_nchw, pool2d_geometry,
                      quiet_nonfinite)
from ..support import blas

name = "strided"

#: Below this many flops per GEMM call (`gemm_flops`) a pass runs BLAS on one thread.
BLAS_ONE_THREAD_BELOW = 2_000_000  # where 2 threads start to pay: docs/backends.md


def _windows(xp, kh, kw, stride, dilation):
    """View (N, C, Ho, Wo, kh, kw) of the kh x kw windows of xp; no copy."""
    (sh, sw), (dh, dw) = stride, dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    view = sliding_window_view(xp, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def gemm_flops(geo) -> int:
    """Flops of one tensordot (one GEMM per group): N*Ho*Wo x Cg*kh*kw x Fg."""
    return 2 * geo.N * geo.Ho * geo.Wo * geo.Cg * geo.kh * geo.kw * geo.Fg


def unsupported(geometry) -> str | None:
    """None: every valid configuration is computed:
    window views express every stride, dilation and padding."""
    return None


def workspace_estimate(geo) -> int:
    """Bytes of the copies tensordot makes of the window views, the largest pass's: forward
    and dw copy x's windows (N Ho Wo C kh kw), dx the stuffed dy's (N Hp Wp F kh kw). Not
    chunked: over 64 MiB on big layers, where auto does not try this backend."""
    windows = geo.N * geo.kh * geo.kw * max(geo.Ho * geo.Wo * geo.C, geo.Hp * geo.Wp * geo.F)
    return geo.dtype.itemsize * windows


@quiet_nonfinite
def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """One tensordot of the window view with w per group."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    with blas.gemm_threads(gemm_flops(geo), BLAS_ONE_THREAD_BELOW):
        xp = pad_nchw(x, geo.pad)
        windows = _windows(xp, geo.kh, geo.kw, geo.stride, geo.dilation)
        y = np.empty((geo.N, geo.Ho, geo.Wo, geo.F), dtype=geo.dtype)  # NHWC, transposed below
        for g in range(geo.groups):
            cin, cout = geo.group(g)
            y[..., cout] = np.tensordot(windows[:, cin], w[cout], axes=([1, 4, 5], [1, 2, 3]))
        if b is not None:
            y += b
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2)), (xp, w, geo)


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """dw by tensordot with the windows; dx as a transposed convolution."""
    xp, w, geo = cache
    check_grad(dy, geo)
    with blas.gemm_threads(gemm_flops(geo), BLAS_ONE_THREAD_BELOW):
        dx = dw = db = None
        if compute_dw:
            windows = _windows(xp, geo.kh, geo.kw, geo.stride, geo.dilation)
            dw = np.empty_like(w)
            for g in range(geo.groups):
                cin, cout = geo.group(g)
                dw[cout] = np.tensordot(dy[:, cout], windows[:, cin], axes=([0, 2, 3], [0, 2, 3]))
            db = dy.sum(axis=(0, 2, 3)) if geo.has_bias else None
        if compute_dx:
            # The transposed convolution multiplies w by the stuffed zeros: 0 * inf would be NaN
            # where no real window saw the inf, so a non-finite w takes the per-tap scatter.
            backward_data = _transposed_conv if np.isfinite(w).all() else _scatter_taps
            dx = geo.crop(backward_data(dy, w, geo).transpose(0, 3, 1, 2))  # from (N, Hp, Wp, C)
        return dx, dw, db


def _transposed_conv(dy, w, geo):
    """dxp (N, Hp, Wp, C): dy stuffed with zeros and padded, correlated with the flipped w."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    ph, pw = dh * (geo.kh - 1), dw * (geo.kw - 1)
    dyz = np.zeros((geo.N, geo.F, (geo.Ho - 1) * sh + 1 + 2 * ph, (geo.Wo - 1) * sw + 1 + 2 * pw),
                   dtype=geo.dtype)
    dyz[:, :, ph:ph + (geo.Ho - 1) * sh + 1:sh, pw:pw + (geo.Wo - 1) * sw + 1:sw] = dy
    dy_windows = _windows(dyz, geo.kh, geo.kw, (1, 1), geo.dilation)  # (N, F, Hc, Wc, kh, kw)
    w_flipped = w[:, :, ::-1, ::-1]
    Hc, Wc = dy_windows.shape[2:4]  # the part of xp that some window reached
    dxp = np.zeros((geo.N, geo.Hp, geo.Wp, geo.C), dtype=geo.dtype)
    for g in range(geo.groups):
        cin, cout = geo.group(g)
        dxp[:, :Hc, :Wc, cin] = np.tensordot(dy_windows[:, cout], w_flipped[cout],
                                              axes=([1, 4, 5], [0, 2, 3]))
    return dxp


def _scatter_taps(dy, w, geo):
    """dxp (N, Hp, Wp, C): for each tap, dy times that tap's weights added at its offset."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    dxp = np.zeros((geo.N, geo.Hp, geo.Wp, geo.C), dtype=geo.dtype)
    for g in range(geo.groups):
        cin, cout = geo.group(g)
        for p in range(geo.kh):
            for q in range(geo.kw):
                rows = slice(p * dh, p * dh + (geo.Ho - 1) * sh + 1, sh)
                cols = slice(q * dw, q * dw + (geo.Wo - 1) * sw + 1, sw)
                dxp[:, rows, cols, cin] += np.tensordot(dy[:, cout], w[cout, :, p, q],
                                                        axes=([1], [0]))
    return dxp


@quiet_nonfinite
def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """argmax over the flattened window view (padding is -inf and never wins)."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    xp = pad_nchw(x, geo.pad, value=-np.inf)
    flat = _windows(xp, geo.kh, geo.kw, geo.stride, (1, 1)).reshape(geo.y_shape + (-1,))
    argmax = flat.argmax(axis=-1)  # first maximum in row-major window order; NaN wins
    y = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    if any(geo.pad):  # an all -inf window must not pick a padding cell
        argmax = np.where(y == -np.inf, geo.first_real_tap(), argmax)
    return y, (argmax, geo)


@quiet_nonfinite
def max_pool2d_backward(dy, cache):
    """One bincount scatter of dy to the winners' flat indices."""
    argmax, geo = cache
    check_grad(dy, geo)
    (sh, sw) = geo.stride
    rows = np.arange(geo.Ho)[:, None] * sh + argmax // geo.kw
    cols = np.arange(geo.Wo) * sw + argmax % geo.kw
    planes = np.arange(geo.N * geo.C).reshape(geo.N, geo.C, 1, 1)
    target = (planes * geo.Hp + rows) * geo.Wp + cols  # flat index into dxp
    # Overlapping windows can pick the same position: bincount sums them (fancy-index += would not).
    dxp = np.bincount(target.ravel(), weights=dy.ravel(), minlength=geo.N * geo.C * geo.Hp * geo.Wp)
    dxp = dxp.astype(geo.dtype, copy=False).reshape(geo.N, geo.C, geo.Hp, geo.Wp)
    return geo.crop(dxp)


@quiet_nonfinite
def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """Sum over the window view's last two axes, divided by kh*kw."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    xp = pad_nchw(x, geo.pad)
    y = _windows(xp, geo.kh, geo.kw, geo.stride, (1, 1)).sum(axis=(-2, -1))
    y /= geo.kh * geo.kw
    return y, (geo,)


@quiet_nonfinite
def avg_pool2d_backward(dy, cache):
    """One shifted, strided add of dy / (kh*kw) per kernel tap."""
    (geo,) = cache
    check_grad(dy, geo)
    (sh, sw) = geo.stride
    share = dy / (geo.kh * geo.kw)
    dxp = np.zeros((geo.N, geo.C, geo.Hp, geo.Wp), dtype=geo.dtype)
    for p in range(geo.kh):  # one shifted, strided add per kernel tap
        for q in range(geo.kw):
            dxp[:, :, p:p + (geo.Ho - 1) * sh + 1:sh, q:q + (geo.Wo - 1) * sw + 1:sw] += share
    return geo.crop(dxp)
