"""Naive backend: the executable definition. Python loops over every output element.

Convolution (cross-correlation, as in every deep-learning framework). With the input padded
to xp (N, C, Hp, Wp), group g = f // Fg owning input channels g*Cg ... (g+1)*Cg - 1:

    y[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] * xp[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw]

Backward, by the chain rule on that sum (each output element touches one window):

    db[f]            = sum_{n, i, j} dy[n, f, i, j]
    dw[f, c, p, q]   = sum_{n, i, j} dy[n, f, i, j] * xp[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw]
    dxp[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw] += dy[n, f, i, j] * w[f, c, p, q]

and dx is dxp with the padding cropped off (padding is a constant; its gradient is dropped).

Pooling: max pool takes the largest value among the real (non-padding) elements of each kh x kw
window - padding acts as -inf but never wins, even against -inf - and routes the gradient to
that one position (the first one in row-major order on ties, as PyTorch); average
pool divides the window sum by kh*kw (padding counts, as count_include_pad=True) and spreads
dy / (kh*kw) over the window.

Speed: one small NumPy reduction per output element, so the cost is ~ N*F*Ho*Wo Python
iterations of a few microseconds each - thousands of times slower than the other rungs on a
real layer. It is kept because it is obviously right: every other backend is tested against
it. Extra memory: the padded input and its gradient.
"""

from __future__ import annotations

import numpy as np

from ..shapes import (check_grad, conv2d_geometry, pad_nchw, pool2d_geometry,
                      quiet_nonfinite)

name = "naive"


def _window(geo, i, j):
    """Row and column slices of the input window feeding output (i, j) (dilation-strided)."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    rows = slice(i * sh, i * sh + dh * (geo.kh - 1) + 1, dh)
    cols = slice(j * sw, j * sw + dw * (geo.kw - 1) + 1, dw)
    return rows, cols


def unsupported(geometry) -> str | None:
    """None: every valid configuration is computed:
    the loops read the definition off directly."""
    return None


@quiet_nonfinite
def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """One window sum per output element: the definition, read off the formula above."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    xp = pad_nchw(x, geo.pad)
    y = np.zeros(geo.y_shape, dtype=geo.dtype)
    for n in range(geo.N):
        for f in range(geo.F):
            channels, _ = geo.group(f // geo.Fg)
            for i in range(geo.Ho):
                for j in range(geo.Wo):
                    rows, cols = _window(geo, i, j)
                    y[n, f, i, j] = np.sum(xp[n, channels, rows, cols] * w[f])
            if b is not None:
                y[n, f] += b[f]
    return y, (xp, w, geo)


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """Each output's dy, spread back over the window and weights that produced it."""
    xp, w, geo = cache
    check_grad(dy, geo)
    dxp = np.zeros_like(xp) if compute_dx else None
    dw = np.zeros_like(w) if compute_dw else None
    for n in range(geo.N):
        for f in range(geo.F):
            channels, _ = geo.group(f // geo.Fg)
            for i in range(geo.Ho):
                for j in range(geo.Wo):
                    rows, cols = _window(geo, i, j)
                    if compute_dw:
                        dw[f] += dy[n, f, i, j] * xp[n, channels, rows, cols]
                    if compute_dx:
                        dxp[n, channels, rows, cols] += dy[n, f, i, j] * w[f]
    db = dy.sum(axis=(0, 2, 3)) if geo.has_bias and compute_dw else None
    return (geo.crop(dxp) if compute_dx else None), dw, db


@quiet_nonfinite
def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """argmax of each window, clipped to the real elements, one window at a time."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    y = np.empty(geo.y_shape, dtype=geo.dtype)
    argmax = np.empty(geo.y_shape, dtype=np.intp)  # flat row-major index inside the window
    top, left = geo.pad[0], geo.pad[2]
    for n in range(geo.N):
        for c in range(geo.C):
            for i in range(geo.Ho):
                for j in range(geo.Wo):
                    rows, cols = _pool_window(geo, i, j)
                    # The window in x's own coordinates, clipped to x: padding never wins.
                    r0, r1 = max(rows.start - top, 0), min(rows.stop - top, geo.H)
                    c0, c1 = max(cols.start - left, 0), min(cols.stop - left, geo.W)
                    window = x[n, c, r0:r1, c0:c1]
                    p, q = divmod(int(np.argmax(window)), c1 - c0)  # first maximum; NaN wins
                    y[n, c, i, j] = window[p, q]
                    argmax[n, c, i, j] = (r0 + top - rows.start + p) * geo.kw + \
                        (c0 + left - cols.start + q)
    return y, (argmax, geo)


@quiet_nonfinite
def max_pool2d_backward(dy, cache):
    """Each dy added at its window's recorded winner."""
    argmax, geo = cache
    check_grad(dy, geo)
    dxp = np.zeros((geo.N, geo.C, geo.Hp, geo.Wp), dtype=geo.dtype)
    (sh, sw) = geo.stride
    for n in range(geo.N):
        for c in range(geo.C):
            for i in range(geo.Ho):
                for j in range(geo.Wo):
                    p, q = divmod(int(argmax[n, c, i, j]), geo.kw)
                    dxp[n, c, i * sh + p, j * sw + q] += dy[n, c, i, j]
    return geo.crop(dxp)


@quiet_nonfinite
def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """Each window's sum over the zero-padded input, divided by kh*kw."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    xp = pad_nchw(x, geo.pad)
    y = np.empty(geo.y_shape, dtype=geo.dtype)
    for n in range(geo.N):
        for c in range(geo.C):
            for i in range(geo.Ho):
                for j in range(geo.Wo):
                    rows, cols = _pool_window(geo, i, j)
                    y[n, c, i, j] = np.sum(xp[n, c, rows, cols]) / (geo.kh * geo.kw)
    return y, (geo,)


@quiet_nonfinite
def avg_pool2d_backward(dy, cache):
    """Each dy / (kh*kw) added to every element of its window."""
    (geo,) = cache
    check_grad(dy, geo)
    dxp = np.zeros((geo.N, geo.C, geo.Hp, geo.Wp), dtype=geo.dtype)
    for n in range(geo.N):
        for c in range(geo.C):
            for i in range(geo.Ho):
                for j in range(geo.Wo):
                    rows, cols = _pool_window(geo, i, j)
                    dxp[n, c, rows, cols] += dy[n, c, i, j] / (geo.kh * geo.kw)
    return geo.crop(dxp)


def _pool_window(geo, i, j):
    (sh, sw) = geo.stride
    return slice(i * sh, i * sh + geo.kh), slice(j * sw, j * sw + geo.kw)
