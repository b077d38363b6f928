"""Blocked depthwise convolution (groups = C, one input channel per group, m = F // C filters
per channel): a block of B channels is B independent filters.

Blocking each group on its own would fill one lane of B; here the channels are blocked
across the groups (layout.block_activations with G = 1) and filter g*m + k of channel g
lives at wd[k, g // B, p, q, g % B], so every multiply-add is lane by lane:

    yb[n, k, cb, i, j, l]  = sum_{p, q} xb[n, cb, i*sh + p*dh, j*sw + q*dw, l] * wd[k, cb, p, q, l]
    dxb[n, cb, i*sh + p*dh, j*sw + q*dw, l] += dyb[n, k, cb, i, j, l] * wd[k, cb, p, q, l]
    dwd[k, cb, p, q, l]    = sum_{n, i, j} dyb[n, k, cb, i, j, l] * xb[n, cb, i*sh + p*dh, ..., l]

With stride 1 along the width a tap is one long lane-by-lane multiply-add over a whole
output row (Wo*B values); other strides take per-pixel loops. backward-weights splits the
batch into private partials like backward_weights.py.
A depthwise layer does kh*kw multiply-adds per loaded value: it is bound by memory, not FMAs.
Parallel over (image, multiplier, block) forward, (image, block) for dx, (range, multiplier,
block) for dwd: no two jobs write the same memory. (dh, dw are the dilation.)
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ...support.jit import njit
from ...support.sizes import ceil_div
from . import layout
from .forward import PIXELS
from .registers import JIT


# The kernels below leave the lane loop at its run-time length (B = the arrays' last axis)
# and are compiled with Numba's default loop vectoriser: with the lane count a constant, the
# SLP vectoriser left these lane-by-lane products scalar, and the loop vectoriser vectorised
# a tap loop with gathers (inspect_asm). Here each lane loop is one vector FMA on a row of
# B lanes in L1 (the partial sums live in memory: a depthwise layer is bound by loads).

@njit(parallel=True, **JIT)
def forward(xb, wd, yb, sh, sw, dh, dw):
    N, m, Cb, Ho, Wo, B = yb.shape
    kh, kw = wd.shape[2], wd.shape[3]
    for job in prange(N * m * Cb):
        n, k, cb = job // (m * Cb), (job // Cb) % m, job % Cb
        for i in range(Ho):
            out = yb[n, k, cb, i]
            out[:] = 0
            for p in range(kh):
                row = xb[n, cb, i * sh + p * dh]
                for q in range(kw):
                    wv = wd[k, cb, p, q]
                    for j in range(Wo):
                        pixel, total = row[j * sw + q * dw], out[j]
                        for lane in range(B):
                            total[lane] += pixel[lane] * wv[lane]


@njit(parallel=True, **JIT)
def backward_data(dyb, wd, dxb, sh, sw, dh, dw):
    N, m, Cb, Ho, Wo, B = dyb.shape
    kh, kw = wd.shape[2], wd.shape[3]
    for job in prange(N * Cb):
        n, cb = job // Cb, job % Cb
        dxb[n, cb] = 0
        for k in range(m):
            for i in range(Ho):
                dyrow = dyb[n, k, cb, i]
                for p in range(kh):
                    target = dxb[n, cb, i * sh + p * dh]
                    for q in range(kw):
                        wv = wd[k, cb, p, q]
                        for j in range(Wo):
                            pixel, dv = target[j * sw + q * dw], dyrow[j]
                            for lane in range(B):
                                pixel[lane] += dv[lane] * wv[lane]


@njit(parallel=True, **JIT)
def backward_weights(xb, dyb, partials, sh, sw, dh, dw):
    """partials (chunks, m, Cb, kh, kw, B): batch range `chunk`'s sum; PIXELS running sums
    per lane (pixels j, j+1, ...) so consecutive FMAs do not wait on each other."""
    N, m, Cb, Ho, Wo, B = dyb.shape
    chunks, _, _, kh, kw = partials.shape[:5]
    T = PIXELS
    full = Wo - Wo % T
    for job in prange(chunks * m * Cb):
        chunk, k, cb = job // (m * Cb), (job // Cb) % m, job % Cb
        n_lo, n_hi = chunk * N // chunks, (chunk + 1) * N // chunks
        acc = np.empty((T, B), dtype=partials.dtype)
        for p in range(kh):
            for q in range(kw):
                acc[:] = 0
                for n in range(n_lo, n_hi):
                    for i in range(Ho):
                        xrow = xb[n, cb, i * sh + p * dh]
                        dyrow = dyb[n, k, cb, i]
                        for j in range(Wo):
                            xv, dv, total = xrow[j * sw + q * dw], dyrow[j], acc[j % T]
                            for lane in range(B):
                                total[lane] += xv[lane] * dv[lane]
                out = partials[chunk, k, cb, p, q]
                out[:] = acc[0]
                for t in range(1, T):
                    out += acc[t]


# Stride 1 along the width: the Wo pixels of an output row and the ones a tap reads are each
# one contiguous run of Wo*B values, so each tap is one long multiply-add with the tap's
# weights repeated Wo times (`tiled_weights`), which the loop vectoriser runs at full width
# (on slices: an index off + s could be negative for Numba, and its wraparound test made
# LLVM gather the elements one by one).

@njit(parallel=True, **JIT)
def forward_rows(xf, wt, yf, sh, dh, dwB):
    """xf (N, Cb, Hp, Wp*B), wt (m, Cb, kh, kw, Wo*B) -> yf (N, m, Cb, Ho, Wo*B)."""
    N, m, Cb, Ho, L = yf.shape
    kh, kw = wt.shape[2], wt.shape[3]
    for job in prange(N * m * Cb):
        n, k, cb = job // (m * Cb), (job // Cb) % m, job % Cb
        for i in range(Ho):
            out = yf[n, k, cb, i]
            out[:] = 0
            for p in range(kh):
                row = xf[n, cb, i * sh + p * dh]
                for q in range(kw):
                    taps, src = wt[k, cb, p, q], row[q * dwB:q * dwB + L]
                    for s in range(L):
                        out[s] += src[s] * taps[s]


@njit(parallel=True, **JIT)
def backward_data_rows(dyf, wt, dxf, sh, dh, dwB):
    N, m, Cb, Ho, L = dyf.shape
    kh, kw = wt.shape[2], wt.shape[3]
    for job in prange(N * Cb):
        n, cb = job // Cb, job % Cb
        dxf[n, cb] = 0
        for k in range(m):
            for i in range(Ho):
                grad = dyf[n, k, cb, i]
                for p in range(kh):
                    target = dxf[n, cb, i * sh + p * dh]
                    for q in range(kw):
                        taps, dst = wt[k, cb, p, q], target[q * dwB:q * dwB + L]
                        for s in range(L):
                            dst[s] += grad[s] * taps[s]


@njit(parallel=True, **JIT)
def backward_weights_rows(xf, dyf, sums, sh, dh, dwB):
    """sums (chunks, m, Cb, kh, kw, Wo*B): batch range `chunk`'s sum per pixel and lane
    (the pixels are added afterwards)."""
    N, m, Cb, Ho, L = dyf.shape
    chunks, _, _, kh, kw = sums.shape[:5]
    for job in prange(chunks * m * Cb):
        chunk, k, cb = job // (m * Cb), (job // Cb) % m, job % Cb
        n_lo, n_hi = chunk * N // chunks, (chunk + 1) * N // chunks
        for p in range(kh):
            for q in range(kw):
                acc = sums[chunk, k, cb, p, q]
                acc[:] = 0
                for n in range(n_lo, n_hi):
                    for i in range(Ho):
                        src = xf[n, cb, i * sh + p * dh, q * dwB:q * dwB + L]
                        grad = dyf[n, k, cb, i]
                        for s in range(L):
                            acc[s] += src[s] * grad[s]


def tiled_weights(wd, Wo):
    """wd (m, Cb, kh, kw, B) repeated along the pixels: (m, Cb, kh, kw, Wo*B)."""
    return np.ascontiguousarray(np.broadcast_to(wd[..., None, :], wd.shape[:4] + (Wo, wd.shape[4]))
                                ).reshape(*wd.shape[:4], -1)


def weights_to_blocked(w, channels, width):
    """wd (m, Cb, kh, kw, B) from w (C*m, 1, kh, kw): filter g*m + k at [k, g // B, .., g % B]."""
    F, _, kh, kw = w.shape
    m = F // channels
    Cb = ceil_div(channels, width)
    padded = np.zeros((Cb * width, m, kh, kw), dtype=w.dtype)
    padded[:channels] = w.reshape(channels, m, kh, kw)
    return np.ascontiguousarray(padded.reshape(Cb, width, m, kh, kw).transpose(2, 0, 3, 4, 1))


def weights_from_blocked(wd, channels):
    """The (C*m, 1, kh, kw) weights that wd (m, Cb, kh, kw, B) holds."""
    m, Cb, kh, kw, B = wd.shape
    w = wd.transpose(1, 4, 0, 2, 3).reshape(Cb * B, m, kh, kw)[:channels]
    return np.ascontiguousarray(w).reshape(channels * m, 1, kh, kw)


def conv_forward(x, w, b, geo, B, relu=False):
    """(y, (xb, wd)): the depthwise forward pass, conversions, bias b (or None) and ReLU
    (when relu) included."""
    N, C, m = geo.N, geo.C, geo.F // geo.C
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    xb = layout.block_activations(x, 1, B, geo.pad)
    wd = weights_to_blocked(np.asarray(w), C, B)
    yb = np.empty((N, m, xb.shape[1], geo.Ho, geo.Wo, B), dtype=geo.dtype)
    if sw == 1:
        forward_rows(_rows(xb), tiled_weights(wd, geo.Wo), _rows(yb), sh, dh, dw * B)
    else:
        forward(xb, wd, yb, sh, sw, dh, dw)
    if m == 1:  # the usual depthwise layer: bias and ReLU ride on the conversion
        y = layout.unblock_activations(yb.reshape(N, *yb.shape[2:]), 1, C, (geo.Ho, geo.Wo),
                                       bias=b, relu=relu)
        return y, (xb, wd)
    y = layout.unblock_activations(yb.reshape(N * m, *yb.shape[2:]), 1, C, (geo.Ho, geo.Wo))
    y = np.ascontiguousarray(y.reshape(N, m, C, geo.Ho, geo.Wo).swapaxes(1, 2))
    y = y.reshape(geo.y_shape)
    if b is not None:
        y += b[:, None, None]
    if relu:
        np.maximum(y, y.dtype.type(0), out=y)
    return y, (xb, wd)


def conv_backward(dy, xb, wd, geo, B, chunks, compute_dx, compute_dw, gate=None):
    """(dx, dw, db) of the depthwise layer (db None without a bias); None for a pass not
    asked for. With `gate` (the forward's ReLU output, y's shape), the gradient is
    dy * (gate > 0), masked while dy is blocked."""
    N, C, m = geo.N, geo.C, geo.F // geo.C
    (sh, sw), (dh, dw_) = geo.stride, geo.dilation

    def per_multiplier(a):
        return np.ascontiguousarray(
            a.reshape(N, C, m, geo.Ho, geo.Wo).swapaxes(1, 2)).reshape(N * m, C, geo.Ho, geo.Wo)

    dyb = layout.block_activations(per_multiplier(dy), 1, B,
                                   gate=None if gate is None else per_multiplier(gate))
    dyb = dyb.reshape(N, m, *dyb.shape[1:])
    dx = dw = db = None
    if compute_dx:
        dxb = np.empty_like(xb)
        if sw == 1:
            backward_data_rows(_rows(dyb), tiled_weights(wd, geo.Wo), _rows(dxb), sh, dh,
                               dw_ * B)
        else:
            backward_data(dyb, wd, dxb, sh, sw, dh, dw_)
        dx = layout.unblock_activations(dxb, 1, C, (geo.H, geo.W), (geo.pad[0], geo.pad[2]))
    if compute_dw:
        if sw == 1:
            sums = np.empty((chunks, *wd.shape[:4], geo.Wo * B), dtype=geo.dtype)
            backward_weights_rows(_rows(xb), _rows(dyb), sums, sh, dh, dw_ * B)
            total = _in_order(sums).reshape(*wd.shape[:4], geo.Wo, B).sum(axis=-2)
        else:
            partials = np.empty((chunks, *wd.shape), dtype=geo.dtype)
            backward_weights(xb, dyb, partials, sh, sw, dh, dw_)
            total = _in_order(partials)
        dw = weights_from_blocked(total, C)
        if geo.has_bias:
            sums = dyb.sum(axis=(0, 3, 4)).reshape(m, -1)[:, :C]  # [k, c]: filter c*m + k
            db = np.ascontiguousarray(sums.T).reshape(C * m)
    return dx, dw, db


def _rows(blocked):
    """The same array with each row's pixels and lanes as one axis."""
    return blocked.reshape(*blocked.shape[:-2], -1)


def _in_order(partials):
    total = partials[0].copy()
    for part in partials[1:]:
        total += part
    return total
