"""Pooling compiled by Numba, shared: the numba backend's own, and the one the registry lends
to every backend that only convolves (POOLING_FROM = "numba": fft, blocked, winograd, the
frameworks; kernels.contract.lend_pooling), so no algorithm imports another for it.

One compiled loop per output element, in parallel over the N*C image planes (no two planes
share an output, so threads never race).

Max pool keeps the first maximum of each window in row-major order (NaN wins, as NumPy's
argmax); only the real elements of a window compete, so padding never wins, even against
-inf. Its backward routes each dy to the winner recorded in an int8 index (a window has at
most 127 taps here; bigger windows use int32). Average pool divides by kh*kw, padding
included (count_include_pad=True).

2x2 windows with stride 2 and no padding - the pooling every CNN here uses - take an
unrolled kernel: with the window size known to the compiler LLVM vectorises the loop and
turns the comparisons into selects, ~5x faster than the general loop, whose tiny
runtime-sized inner loops it cannot vectorise. The backward of non-overlapping windows
writes every dx element once instead of zero-filling and scattering.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ..shapes import check_grad, pad_nchw, pool2d_geometry, quiet_nonfinite
from ..support.jit import njit

_JIT = dict(cache=True, nogil=True)


@njit(**_JIT)
def _wins(v, best):
    """v takes over from best: strictly greater, or the first NaN."""
    return v > best or (v != v and best == best)


@njit(parallel=True, **_JIT)
def _max_forward_2x2(x, y, argmax):
    planes, Ho, Wo = y.shape
    for k in prange(planes):
        for i in range(Ho):
            for j in range(Wo):
                best, at = x[k, 2 * i, 2 * j], 0
                v = x[k, 2 * i, 2 * j + 1]
                if _wins(v, best):
                    best, at = v, 1
                v = x[k, 2 * i + 1, 2 * j]
                if _wins(v, best):
                    best, at = v, 2
                v = x[k, 2 * i + 1, 2 * j + 1]
                if _wins(v, best):
                    best, at = v, 3
                y[k, i, j] = best
                argmax[k, i, j] = at


@njit(parallel=True, **_JIT)
def _max_backward_2x2(dy, argmax, dx, zero):
    planes, Ho, Wo = dy.shape
    H, W = dx.shape[1:]
    for k in prange(planes):
        dx[k, 2 * Ho:] = 0  # an odd last row/column belongs to no window
        dx[k, :, 2 * Wo:] = 0
        for i in range(Ho):
            for j in range(Wo):
                g, at = dy[k, i, j], argmax[k, i, j]
                dx[k, 2 * i, 2 * j] = g if at == 0 else zero
                dx[k, 2 * i, 2 * j + 1] = g if at == 1 else zero
                dx[k, 2 * i + 1, 2 * j] = g if at == 2 else zero
                dx[k, 2 * i + 1, 2 * j + 1] = g if at == 3 else zero


@njit(parallel=True, **_JIT)
def _max_forward(xp, y, argmax, kh, kw, sh, sw, top, left, H, W):
    planes, Ho, Wo = y.shape
    for k in prange(planes):
        for i in range(Ho):
            # Only the real (non-padding) rows and columns of the window compete.
            p0, p1 = max(top - i * sh, 0), min(top + H - i * sh, kh)
            for j in range(Wo):
                q0, q1 = max(left - j * sw, 0), min(left + W - j * sw, kw)
                best, at = xp[k, i * sh + p0, j * sw + q0], p0 * kw + q0
                for p in range(p0, p1):
                    for q in range(q0, q1):
                        v = xp[k, i * sh + p, j * sw + q]
                        if _wins(v, best):
                            best, at = v, p * kw + q
                y[k, i, j] = best
                argmax[k, i, j] = at


@njit(parallel=True, **_JIT)
def _max_backward(dy, argmax, dxp, kw, sh, sw):
    planes, Ho, Wo = dy.shape
    for k in prange(planes):
        for i in range(Ho):
            for j in range(Wo):
                at = argmax[k, i, j]
                dxp[k, i * sh + at // kw, j * sw + at % kw] += dy[k, i, j]


@njit(parallel=True, **_JIT)
def _avg_forward(xp, y, kh, kw, sh, sw, zero):
    planes, Ho, Wo = y.shape
    for k in prange(planes):
        for i in range(Ho):
            for j in range(Wo):
                total = zero
                for p in range(kh):
                    for q in range(kw):
                        total += xp[k, i * sh + p, j * sw + q]
                y[k, i, j] = total / (kh * kw)


@njit(parallel=True, **_JIT)
def _avg_forward_2x2(x, y):
    planes, Ho, Wo = y.shape
    for k in prange(planes):
        for i in range(Ho):
            for j in range(Wo):
                y[k, i, j] = (x[k, 2 * i, 2 * j] + x[k, 2 * i, 2 * j + 1]
                              + x[k, 2 * i + 1, 2 * j] + x[k, 2 * i + 1, 2 * j + 1]) / 4


@njit(parallel=True, **_JIT)
def _avg_backward(dy, dxp, kh, kw, sh, sw):
    planes, Ho, Wo = dy.shape
    for k in prange(planes):
        for i in range(Ho):
            for j in range(Wo):
                share = dy[k, i, j] / (kh * kw)
                for p in range(kh):
                    for q in range(kw):
                        dxp[k, i * sh + p, j * sw + q] += share


def _is_2x2(geo):
    return (geo.kh, geo.kw, *geo.stride) == (2, 2, 2, 2) and not any(geo.pad)


def _planes(a, geo, fill=0.0):
    """Padded input as contiguous (N*C, Hp, Wp) planes."""
    return np.ascontiguousarray(pad_nchw(a, geo.pad, value=fill)).reshape(-1, geo.Hp, geo.Wp)


@quiet_nonfinite
def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """The unrolled 2x2 kernel where it applies, else the general window loop."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    y = np.empty((geo.N * geo.C, geo.Ho, geo.Wo), dtype=geo.dtype)
    argmax = np.empty(y.shape, dtype=np.int8 if geo.kh * geo.kw <= 127 else np.int32)
    if _is_2x2(geo):
        _max_forward_2x2(_planes(x, geo), y, argmax)
    else:
        _max_forward(_planes(x, geo, -np.inf), y, argmax, geo.kh, geo.kw, *geo.stride,
                     geo.pad[0], geo.pad[2], geo.H, geo.W)
    return y.reshape(geo.y_shape), (argmax, geo)


@quiet_nonfinite
def max_pool2d_backward(dy, cache):
    """2x2: every dx written once; else dy added at each recorded winner."""
    argmax, geo = cache
    dy = np.ascontiguousarray(check_grad(dy, geo)).reshape(argmax.shape)
    if _is_2x2(geo):
        dx = np.empty((geo.N * geo.C, geo.H, geo.W), dtype=geo.dtype)
        _max_backward_2x2(dy, argmax, dx, geo.dtype.type(0))
        return dx.reshape(geo.x_shape)
    dxp = np.zeros((geo.N * geo.C, geo.Hp, geo.Wp), dtype=geo.dtype)
    _max_backward(dy, argmax, dxp, geo.kw, *geo.stride)
    return geo.crop(dxp.reshape(geo.N, geo.C, geo.Hp, geo.Wp))


@quiet_nonfinite
def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """The unrolled 2x2 kernel where it applies, else the general window loop."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    y = np.empty((geo.N * geo.C, geo.Ho, geo.Wo), dtype=geo.dtype)
    if _is_2x2(geo):
        _avg_forward_2x2(_planes(x, geo), y)
    else:
        _avg_forward(_planes(x, geo), y, geo.kh, geo.kw, *geo.stride, geo.dtype.type(0))
    return y.reshape(geo.y_shape), (geo,)


@quiet_nonfinite
def avg_pool2d_backward(dy, cache):
    """dy / (kh*kw) added over each window, in parallel over planes."""
    (geo,) = cache
    dy = np.ascontiguousarray(check_grad(dy, geo)).reshape(geo.N * geo.C, geo.Ho, geo.Wo)
    dxp = np.zeros((geo.N * geo.C, geo.Hp, geo.Wp), dtype=geo.dtype)
    _avg_backward(dy, dxp, geo.kh, geo.kw, *geo.stride)
    return geo.crop(dxp.reshape(geo.N, geo.C, geo.Hp, geo.Wp))
