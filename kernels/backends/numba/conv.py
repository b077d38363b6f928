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
memory traffic per multiply-add; accumulators stay in the input dtype.

Strides > 1 become stride 1 by a polyphase split (phases.py): the input dealt into
sh*sw phase planes, each tap reads one plane at a fixed offset, and the same flat-row
kernels run on the planes' width (stride 1: one plane per channel, the padded input). Before
it, strides took scalar loops with strided loads: 15-25x slower than im2col.

`prange` splits only an axis whose outputs no two iterations share - the batch for y and dx,
blocks of filters for dw - so threads never race and results do not depend on thread count.
fastmath is limited to 'reassoc' and 'contract' (reorder sums, fuse multiply-adds): NaN and
inf still propagate. Backward with a non-finite x or w takes the plain loops: the flat rows'
dropped columns would turn 0 * inf into NaN where no real window saw the inf.

Against naive: ~1000x faster, no interpreter in the loop. Against im2col: no kh*kw-fold
column copy (extra memory: the phase planes - the padded input, rearranged - and dx's, y
and dy on the planes' width),
but no BLAS either, so big channel counts run at roughly half of a register-blocked GEMM's
speed.
Compilation happens on the first call with each dtype and cache=True keeps the machine code
on disk for the next process; `import kernels` never pays for it.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ...shapes import check_grad, conv2d_geometry, pad_nchw, quiet_nonfinite
from ...support.jit import njit
from . import phases

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
def _forward_flat(xf, w, yf, S, phase, offset, L, groups):
    """xf (N, C*S, Hq*Wq) phase planes, w (F, Cg, kh, kw) -> yf (N, F, Ho*Wq) += sum over
    taps; tap (p, q) reads plane c*S + phase[p, q] from offset[p, q] on."""
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
                        off, plane = offset[p, q], (c0 + c) * S + phase[p, q]
                        if blocked:
                            _axpy4(xf[n, plane, off:off + L], w[f, c, p, q], w[f + 1, c, p, q],
                                   w[f + 2, c, p, q], w[f + 3, c, p, q], yf[n, f, :L],
                                   yf[n, f + 1, :L], yf[n, f + 2, :L], yf[n, f + 3, :L])
                        else:  # the last filters, or a block that straddles two groups
                            for r in range(f, min(f + BLOCK, F)):
                                _axpy(xf[n, ((r // Fg) * Cg + c) * S + phase[p, q],
                                         off:off + L], w[r, c, p, q], yf[n, r, :L])


@njit(parallel=True, **_JIT)
def _backward_data_flat(dyf, w, dxf, S, phase, offset, L, groups):
    """dyf (N, F, Ho*Wq, zero between rows), w -> dxf (N, C*S, Hq*Wq) phase planes += the
    transposed taps."""
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
                            off, a = offset[p, q], phase[p, q]
                            if blocked:
                                _axpy4(ds, w[f, c, p, q], w[f, c + 1, p, q], w[f, c + 2, p, q],
                                       w[f, c + 3, p, q], dxf[n, ch * S + a, off:off + L],
                                       dxf[n, (ch + 1) * S + a, off:off + L],
                                       dxf[n, (ch + 2) * S + a, off:off + L],
                                       dxf[n, (ch + 3) * S + a, off:off + L])
                            else:
                                for r in range(c, min(c + BLOCK, Cg)):
                                    _axpy(ds, w[f, r, p, q],
                                          dxf[n, (g * Cg + r) * S + a, off:off + L])


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
def _backward_weights_flat(dyf, xf, dwt, S, phase, offset, L, groups, zero):
    """dwt (F, Cg, kh, kw) = sum over images and output positions of dy * the shifted phase
    plane of x that each tap reads."""
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
                        off, a = offset[p, q], phase[p, q]
                        if blocked:
                            xs = xf[n, (c0 + c) * S + a, off:off + L]
                            s0, s1, s2, s3 = _dot4(xs, dyf[n, f, :L], dyf[n, f + 1, :L],
                                                   dyf[n, f + 2, :L], dyf[n, f + 3, :L], zero)
                            dwt[f, c, p, q] += s0
                            dwt[f + 1, c, p, q] += s1
                            dwt[f + 2, c, p, q] += s2
                            dwt[f + 3, c, p, q] += s3
                        else:
                            for r in range(f, min(f + BLOCK, F)):
                                plane = ((r // Fg) * Cg + c) * S + a
                                dwt[r, c, p, q] += _dot(xf[n, plane, off:off + L],
                                                        dyf[n, r, :L], zero)


# Plain loops, for a backward pass with a non-finite x or w (see conv2d_backward).

@njit(parallel=True, **_JIT)
def _backward_data_plain(dy, w, dxp, sh, sw, dh, dw, groups):
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
def _backward_weights_plain(dy, xp, dwt, sh, sw, dh, dw, groups, zero):
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
    strides by the polyphase split, non-finite backward inputs by plain loops."""
    return None


@quiet_nonfinite
def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Flat-row taps on the phase planes of the padded input (width Wq), cropped."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    w = np.ascontiguousarray(w)
    planes, Wq = phases.deal(x, geo)
    S, phase, offset, L = phases.taps(geo, Wq)
    y_wide = np.zeros((geo.N, geo.F, geo.Ho, Wq), dtype=geo.dtype)
    _forward_flat(planes, w, y_wide.reshape(geo.N, geo.F, -1), S, phase, offset, L,
                  geo.groups)
    y = np.ascontiguousarray(y_wide[..., :geo.Wo])
    if b is not None:
        y += b[:, None, None]
    return y, (x, planes, Wq, w, geo)


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """dx and dw by the same flat-row taps (finite inputs) or plain loops."""
    x, planes, Wq, w, geo = cache
    check_grad(dy, geo)
    dx = dw = db = None
    # The flat-row kernels also multiply the dropped columns (dy = 0 there) by real values
    # of w (for dx) and of x (for dw); 0 * inf = NaN would leak into taps whose windows never
    # saw that value, so a non-finite w or x takes the plain loops (one check pass each).
    flat_dx = compute_dx and np.isfinite(w).all()
    flat_dw = compute_dw and np.isfinite(x).all()
    S, phase, offset, L = phases.taps(geo, Wq)
    if flat_dx or flat_dw:
        dy_wide = np.zeros((geo.N, geo.F, geo.Ho, Wq), dtype=geo.dtype)
        dy_wide[..., :geo.Wo] = dy  # the extra columns stay zero: they must add nothing
        dyf = dy_wide.reshape(geo.N, geo.F, -1)
    if compute_dx > flat_dx or compute_dw > flat_dw:  # a plain-loop pass: needs xp, dy
        dy, xp = np.ascontiguousarray(dy), pad_nchw(np.ascontiguousarray(x), geo.pad)
    if compute_dx:
        if flat_dx:
            dx_planes = np.zeros_like(planes)
            _backward_data_flat(dyf, w, dx_planes, S, phase, offset, L, geo.groups)
            dx = phases.undeal(dx_planes, geo, Wq)
        else:
            dxp = np.zeros_like(xp)
            _backward_data_plain(dy, w, dxp, *geo.stride, *geo.dilation, geo.groups)
            dx = geo.crop(dxp)
    if compute_dw:
        dw = np.empty_like(w)
        if flat_dw:
            _backward_weights_flat(dyf, planes, dw, S, phase, offset, L, geo.groups,
                                   geo.dtype.type(0))
        else:
            _backward_weights_plain(dy, xp, dw, *geo.stride, *geo.dilation, geo.groups,
                                    geo.dtype.type(0))
        db = dy.sum(axis=(0, 2, 3)) if geo.has_bias else None
    return dx, dw, db
