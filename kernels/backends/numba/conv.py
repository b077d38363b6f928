"""Numba backend, convolution: direct loops compiled to machine code by Numba's @njit.

The maths is the naive backend's, term for term (xp is the padded input, g = f // Fg):

    y[n, f, i, j]  = b[f] + sum_{c, p, q} w[f, c, p, q] * xp[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw]
    dxp[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw] += dy[n, f, i, j] * w[f, c, p, q]
    dw[f, c, p, q] = sum_{n, i, j} dy[n, f, i, j] * xp[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw]

What changes is the loop order. With stride 1, index an image plane as one flat row of
Hp*Wp values and compute the output on the *padded* width: output l = i*Wp + j then reads
input l + off with off = p*dh*Wp + q*dw for every tap, so each tap is one long contiguous
multiply-add `acc[0:L] += w * xflat[off:off+L]` (L = (Ho-1)*Wp + Wo; the Wp - Wo extra columns
per row are computed and dropped - for dy they are zeros). LLVM vectorises those loops;
four filters (or, backward, four channels) share every load of x (dy), which halves the
memory traffic per multiply-add; accumulators stay in the input dtype. Strides > 1 break the
contiguity and take the plain loop order instead.

`prange` splits only an axis whose outputs no two iterations share - the batch for y and dx,
blocks of filters for dw - so threads never race and results do not depend on thread count.
fastmath is limited to 'reassoc' and 'contract' (reorder sums, fuse multiply-adds): NaN and
inf still propagate. Backward with a non-finite x or w takes the plain loops: the flat rows'
dropped columns would turn 0 * inf into NaN where no real window saw the inf.

Against naive: ~1000x faster, no interpreter in the loop. Against im2col: no kh*kw-fold
column copy (extra memory: the padded input, y and dy on the padded width, the padded dx),
but no BLAS either, so big channel counts run at roughly half of a register-blocked GEMM's
speed.
Compilation happens on the first call with each dtype and cache=True keeps the machine code
on disk for the next process; `import kernels` never pays for it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ...shapes import check_grad, conv2d_geometry, pad_nchw, quiet_nonfinite

_JIT = dict(cache=True, nogil=True, fastmath={"reassoc", "contract"})
BLOCK = 4  # filters (channels) sharing each load of x (dy)


@njit(**_JIT)
def _axpy4(x, t0, t1, t2, t3, o0, o1, o2, o3):
    """o_k[:] += t_k * x for four rows at once."""
    for i in range(x.shape[0]):
        v = x[i]
        o0[i] += t0 * v
        o1[i] += t1 * v
        o2[i] += t2 * v
        o3[i] += t3 * v


@njit(**_JIT)
def _axpy(x, t, o):
    for i in range(x.shape[0]):
        o[i] += t * x[i]


@njit(parallel=True, **_JIT)
def _forward_s1(xf, w, yf, Wp, L, dh, dw, groups):
    """xf (N, C, Hp*Wp), w (F, Cg, kh, kw) -> yf (N, F, Ho*Wp) += sum over taps."""
    N = xf.shape[0]
    F, Cg, kh, kw = w.shape
    Fg = F // groups
    for n in prange(N):
        for f in range(0, F, BLOCK):
            c0 = (f // Fg) * Cg
            blocked = f + BLOCK <= F and (f + BLOCK - 1) // Fg == f // Fg
            for c in range(Cg):
                for p in range(kh):
                    for q in range(kw):
                        off = p * dh * Wp + q * dw
                        if blocked:
                            _axpy4(xf[n, c0 + c, off:off + L], w[f, c, p, q], w[f + 1, c, p, q],
                                   w[f + 2, c, p, q], w[f + 3, c, p, q], yf[n, f, :L],
                                   yf[n, f + 1, :L], yf[n, f + 2, :L], yf[n, f + 3, :L])
                        else:  # the last filters, or a block that straddles two groups
                            for r in range(f, min(f + BLOCK, F)):
                                _axpy(xf[n, (r // Fg) * Cg + c, off:off + L], w[r, c, p, q],
                                      yf[n, r, :L])


@njit(parallel=True, **_JIT)
def _backward_data_s1(dyf, w, dxf, Wp, L, dh, dw, groups):
    """dyf (N, F, Ho*Wp, zero between rows), w -> dxf (N, C, Hp*Wp) += the transposed taps."""
    N, F = dyf.shape[:2]
    _, Cg, kh, kw = w.shape
    Fg = F // groups
    for n in prange(N):
        for g in range(groups):
            for c in range(0, Cg, BLOCK):
                ch = g * Cg + c
                blocked = c + BLOCK <= Cg
                for f in range(g * Fg, (g + 1) * Fg):
                    ds = dyf[n, f, :L]
                    for p in range(kh):
                        for q in range(kw):
                            off = p * dh * Wp + q * dw
                            if blocked:
                                _axpy4(ds, w[f, c, p, q], w[f, c + 1, p, q], w[f, c + 2, p, q],
                                       w[f, c + 3, p, q], dxf[n, ch, off:off + L],
                                       dxf[n, ch + 1, off:off + L], dxf[n, ch + 2, off:off + L],
                                       dxf[n, ch + 3, off:off + L])
                            else:
                                for r in range(c, min(c + BLOCK, Cg)):
                                    _axpy(ds, w[f, r, p, q], dxf[n, g * Cg + r, off:off + L])


@njit(**_JIT)
def _dot4(x, d0, d1, d2, d3, zero):
    s0 = s1 = s2 = s3 = zero  # typed like the data (x[0] * 0 would be NaN for x[0] = inf)
    for i in range(x.shape[0]):
        v = x[i]
        s0 += d0[i] * v
        s1 += d1[i] * v
        s2 += d2[i] * v
        s3 += d3[i] * v
    return s0, s1, s2, s3


@njit(**_JIT)
def _dot(x, d, zero):
    s = zero
    for i in range(x.shape[0]):
        s += d[i] * x[i]
    return s


@njit(parallel=True, **_JIT)
def _backward_weights_s1(dyf, xf, dwt, Wp, L, dh, dw, groups, zero):
    """dwt (F, Cg, kh, kw) = sum over images and output positions of dy * shifted x."""
    N, F = dyf.shape[:2]
    _, Cg, kh, kw = dwt.shape
    Fg = F // groups
    for fb in prange((F + BLOCK - 1) // BLOCK):
        f = fb * BLOCK
        c0 = (f // Fg) * Cg
        blocked = f + BLOCK <= F and (f + BLOCK - 1) // Fg == f // Fg
        dwt[f:f + BLOCK] = 0
        for n in range(N):
            for c in range(Cg):
                for p in range(kh):
                    for q in range(kw):
                        off = p * dh * Wp + q * dw
                        if blocked:
                            xs = xf[n, c0 + c, off:off + L]
                            s0, s1, s2, s3 = _dot4(xs, dyf[n, f, :L], dyf[n, f + 1, :L],
                                                   dyf[n, f + 2, :L], dyf[n, f + 3, :L], zero)
                            dwt[f, c, p, q] += s0
                            dwt[f + 1, c, p, q] += s1
                            dwt[f + 2, c, p, q] += s2
                            dwt[f + 3, c, p, q] += s3
                        else:
                            for r in range(f, min(f + BLOCK, F)):
                                cr = (r // Fg) * Cg + c
                                dwt[r, c, p, q] += _dot(xf[n, cr, off:off + L], dyf[n, r, :L], zero)


@njit(parallel=True, **_JIT)
def _forward_strided(xp, w, y, sh, sw, dh, dw, groups):
    N = xp.shape[0]
    F, Cg, kh, kw = w.shape
    _, _, Ho, Wo = y.shape
    Fg = F // groups
    for n in prange(N):
        for f in range(F):
            c0 = (f // Fg) * Cg
            for c in range(Cg):
                for p in range(kh):
                    for q in range(kw):
                        tap = w[f, c, p, q]
                        for i in range(Ho):
                            row = xp[n, c0 + c, i * sh + p * dh]
                            for j in range(Wo):
                                y[n, f, i, j] += tap * row[j * sw + q * dw]


@njit(parallel=True, **_JIT)
def _backward_data_strided(dy, w, dxp, sh, sw, dh, dw, groups):
    N, F, Ho, Wo = dy.shape
    _, Cg, kh, kw = w.shape
    Fg = F // groups
    for n in prange(N):
        for f in range(F):
            c0 = (f // Fg) * Cg
            for c in range(Cg):
                for p in range(kh):
                    for q in range(kw):
                        tap = w[f, c, p, q]
                        for i in range(Ho):
                            row = dxp[n, c0 + c, i * sh + p * dh]
                            for j in range(Wo):
                                row[j * sw + q * dw] += tap * dy[n, f, i, j]


@njit(parallel=True, **_JIT)
def _backward_weights_strided(dy, xp, dwt, sh, sw, dh, dw, groups, zero):
    N, F, Ho, Wo = dy.shape
    _, Cg, kh, kw = dwt.shape
    Fg = F // groups
    for f in prange(F):
        c0 = (f // Fg) * Cg
        for c in range(Cg):
            for p in range(kh):
                for q in range(kw):
                    acc = zero  # typed like the data: float32 accumulates in float32
                    for n in range(N):
                        for i in range(Ho):
                            row = xp[n, c0 + c, i * sh + p * dh]
                            for j in range(Wo):
                                acc += dy[n, f, i, j] * row[j * sw + q * dw]
                    dwt[f, c, p, q] = acc


def unsupported(geometry) -> str | None:
    """None: every valid configuration is computed:
    strides other than 1 take the plain loops."""
    return None


@quiet_nonfinite
def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Stride 1: flat-row taps on the padded width, cropped; other strides: plain loops."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    xp = np.ascontiguousarray(pad_nchw(x, geo.pad))
    w = np.ascontiguousarray(w)
    if geo.stride == (1, 1):
        L = (geo.Ho - 1) * geo.Wp + geo.Wo
        y_wide = np.zeros((geo.N, geo.F, geo.Ho, geo.Wp), dtype=geo.dtype)
        _forward_s1(xp.reshape(geo.N, geo.C, -1), w, y_wide.reshape(geo.N, geo.F, -1),
                    geo.Wp, L, *geo.dilation, geo.groups)
        y = np.ascontiguousarray(y_wide[..., :geo.Wo])
    else:
        y = np.zeros(geo.y_shape, dtype=geo.dtype)
        _forward_strided(xp, w, y, *geo.stride, *geo.dilation, geo.groups)
    if b is not None:
        y += b[:, None, None]
    return y, (xp, w, geo)


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """dx and dw by the same flat-row taps (finite stride-1 inputs) or plain loops."""
    xp, w, geo = cache
    check_grad(dy, geo)
    dx = dw = db = None
    # The flat-row kernels also multiply the dropped columns (dy = 0 there) by real values
    # of w (for dx) and of x (for dw); 0 * inf = NaN would leak into taps whose windows never
    # saw that value, so a non-finite w or x takes the plain loops (one check pass each).
    flat_dx = compute_dx and geo.stride == (1, 1) and np.isfinite(w).all()
    flat_dw = compute_dw and geo.stride == (1, 1) and np.isfinite(xp).all()
    L = (geo.Ho - 1) * geo.Wp + geo.Wo
    if flat_dx or flat_dw:
        dy_wide = np.zeros((geo.N, geo.F, geo.Ho, geo.Wp), dtype=geo.dtype)
        dy_wide[..., :geo.Wo] = dy  # the extra columns stay zero: they must add nothing
        dyf = dy_wide.reshape(geo.N, geo.F, -1)
    if not (flat_dx and flat_dw):
        dy = np.ascontiguousarray(dy)
    if compute_dx:
        dxp = np.zeros_like(xp)
        if flat_dx:
            _backward_data_s1(dyf, w, dxp.reshape(geo.N, geo.C, -1), geo.Wp, L, *geo.dilation,
                              geo.groups)
        else:
            _backward_data_strided(dy, w, dxp, *geo.stride, *geo.dilation, geo.groups)
        dx = geo.crop(dxp)
    if compute_dw:
        dw = np.empty_like(w)
        if flat_dw:
            _backward_weights_s1(dyf, xp.reshape(geo.N, geo.C, -1), dw, geo.Wp, L,
                                 *geo.dilation, geo.groups, geo.dtype.type(0))
        else:
            _backward_weights_strided(dy, xp, dw, *geo.stride, *geo.dilation, geo.groups,
                                      geo.dtype.type(0))
        db = dy.sum(axis=(0, 2, 3)) if geo.has_bias else None
    return dx, dw, db
