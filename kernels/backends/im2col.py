"""im2col backend: copy every window into a column of a matrix, then one GEMM per group.

im2col gathers the padded input xp (N, C, Hp, Wp) into a matrix with one row per
(channel, tap) and one column per output pixel:

    cols[(c, p, q), (n, i, j)] = xp[n, c, i*sh + p*dh, j*sw + q*dw]      (C*kh*kw, N*Ho*Wo)

It loops over the kh*kw taps, each one strided slice copy of the whole batch, never over
pixels. With the weight viewed as a matrix Wm (F, Cg*kh*kw), the convolution of group g is a
matrix product, and so are both halves of its backward pass (for the rows/columns of group g):

    Y     = Wm @ cols         (F, N*Ho*Wo)   -> y (N, F, Ho, Wo) after one transpose
    dWm   = dY @ cols.T       (F, Cg*kh*kw)
    dcols = Wm.T @ dY         (C*kh*kw, N*Ho*Wo)

col2im then scatters dcols back onto dxp, *adding* where windows overlap: it is the adjoint of
im2col, not its inverse. Pooling reuses the same gather with each channel as its own image:
max/argmax or mean down the tap axis, and col2im for the gradient.

Faster than `strided` because the gather is kh*kw large contiguous copies instead of a
six-axis strided copy inside tensordot, the GEMM result needs only one transpose, and the
columns built in forward are kept for backward. Extra memory: the columns are kh*kw times the
(padded) input, plus the GEMM output and, backward, dcols. `MAX_WORKSPACE_BYTES` caps that
workspace by processing the batch in chunks (then columns are rebuilt in backward instead of
kept); a single image whose workspace exceeds the cap is still processed whole.
"""

from __future__ import annotations

import numpy as np

from ..shapes import (check_grad, conv2d_geometry, pad_nchw, pool2d_geometry,
                      quiet_nonfinite)
from ..support import blas
from ..support.sizes import WORKSPACE_CAP

name = "im2col"

#: Cap on the workspace (columns, dcols and the GEMM output) of one conv call, in bytes.
MAX_WORKSPACE_BYTES = WORKSPACE_CAP
#: Below this many flops per GEMM call (`gemm_flops`) a pass runs BLAS on one thread.
BLAS_ONE_THREAD_BELOW = 2_000_000  # where 2 threads start to pay: docs/backends.md


def _taps(kh, kw, Ho, Wo, stride, dilation):
    """For each tap (p, q): the strided row and column slices of xp it reads."""
    (sh, sw), (dh, dw) = stride, dilation
    for p in range(kh):
        for q in range(kw):
            yield p, q, (slice(p * dh, p * dh + (Ho - 1) * sh + 1, sh),
                         slice(q * dw, q * dw + (Wo - 1) * sw + 1, sw))


def im2col(xp, kh, kw, Ho, Wo, stride, dilation):
    """cols (C, kh, kw, N, Ho, Wo) from xp (N, C, Hp, Wp); reshape to (C*kh*kw, N*Ho*Wo)."""
    N, C = xp.shape[:2]
    cols = np.empty((C, kh, kw, N, Ho, Wo), dtype=xp.dtype)
    for p, q, (rows, columns) in _taps(kh, kw, Ho, Wo, stride, dilation):
        cols[:, p, q] = xp[:, :, rows, columns].transpose(1, 0, 2, 3)
    return cols


def col2im(cols, dxp, stride, dilation):
    """Add cols (C, kh, kw, N, Ho, Wo) back onto dxp (N, C, Hp, Wp), in place."""
    C, kh, kw, N, Ho, Wo = cols.shape
    for p, q, (rows, columns) in _taps(kh, kw, Ho, Wo, stride, dilation):
        dxp[:, :, rows, columns] += cols[:, p, q].transpose(1, 0, 2, 3)
    return dxp


def _chunk_size(geo, itemsize):
    """Images per chunk so that columns + dcols + GEMM output stay under the cap."""
    per_image = itemsize * geo.Ho * geo.Wo * (2 * geo.C * geo.kh * geo.kw + geo.F)
    return max(1, min(geo.N, MAX_WORKSPACE_BYTES // per_image))


def _chunks(geo, itemsize):
    step = _chunk_size(geo, itemsize)
    return [slice(n, min(n + step, geo.N)) for n in range(0, geo.N, step)]


def workspace_estimate(geo) -> int:
    """Bytes of one call's columns, dcols and GEMM output: the chunk's, or one image's when
    that alone exceeds the cap (e.g. a 9x9 kernel on a 256x256 image: 324 MiB)."""
    itemsize = geo.dtype.itemsize
    per_image = itemsize * geo.Ho * geo.Wo * (2 * geo.C * geo.kh * geo.kw + geo.F)
    return _chunk_size(geo, itemsize) * per_image


def chunk_count(geo, itemsize) -> int:
    """How many batch chunks a conv call of this geometry takes under the cap."""
    return len(_chunks(geo, itemsize))


def gemm_flops(geo) -> int:
    """Flops of one of the pass's GEMM calls: (Fg x Cg*kh*kw) @ (Cg*kh*kw x n*Ho*Wo), n the
    images of a chunk (backward's two products have the same three sizes)."""
    return 2 * geo.Fg * geo.Cg * geo.kh * geo.kw * _chunk_size(geo, geo.dtype.itemsize) \
        * geo.Ho * geo.Wo


def unsupported(geometry) -> str | None:
    """None: every valid configuration is computed:
    the gather handles every stride, dilation and padding."""
    return None


@quiet_nonfinite
def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Columns of each batch chunk, one GEMM per group; the columns are kept if they fit."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    with blas.gemm_threads(gemm_flops(geo), BLAS_ONE_THREAD_BELOW):
        xp = pad_nchw(x, geo.pad)
        G, K = geo.groups, geo.Cg * geo.kh * geo.kw
        w_mat = np.ascontiguousarray(w).reshape(G, geo.Fg, K)
        y = np.empty(geo.y_shape, dtype=geo.dtype)
        chunks = _chunks(geo, x.itemsize)
        kept_cols = None
        for batch in chunks:
            cols = im2col(xp[batch], geo.kh, geo.kw, geo.Ho, geo.Wo, geo.stride, geo.dilation)
            out = np.matmul(w_mat, cols.reshape(G, K, -1))  # (G, Fg, n*Ho*Wo)
            y[batch] = out.reshape(geo.F, -1, geo.Ho, geo.Wo).transpose(1, 0, 2, 3)
            if len(chunks) == 1:
                kept_cols = cols  # only when it fits the cap
            # Free this chunk's workspace before the next chunk allocates its own: otherwise
            # two chunks' buffers are alive at once and the cap is exceeded.
            del cols, out
        if b is not None:
            y += b[:, None, None]
        return y, (xp, w_mat, kept_cols, geo)


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """dW = dY cols^T and dcols = W^T dY per group, then col2im; each only if asked for."""
    xp, w_mat, kept_cols, geo = cache
    check_grad(dy, geo)
    with blas.gemm_threads(gemm_flops(geo), BLAS_ONE_THREAD_BELOW):
        G, K = geo.groups, geo.Cg * geo.kh * geo.kw
        dxp = np.zeros_like(xp) if compute_dx else None
        dw_mat = np.zeros_like(w_mat) if compute_dw else None
        w_mat_t = w_mat.transpose(0, 2, 1)
        # The forward pass decided the chunking: kept columns mean one chunk of the whole batch.
        chunks = [slice(0, geo.N)] if kept_cols is not None else _chunks(geo, dy.itemsize)
        for batch in chunks:
            dy_mat = np.ascontiguousarray(dy[batch].transpose(1, 0, 2, 3)).reshape(G, geo.Fg, -1)
            cols_shape = (geo.C, geo.kh, geo.kw, batch.stop - batch.start, geo.Ho, geo.Wo)
            if compute_dw:  # the columns are needed only here
                cols = kept_cols if kept_cols is not None else im2col(
                    xp[batch], geo.kh, geo.kw, geo.Ho, geo.Wo, geo.stride, geo.dilation)
                dw_mat += np.matmul(dy_mat, cols.reshape(G, K, -1).transpose(0, 2, 1))
                del cols
            if compute_dx:
                dcols = np.matmul(w_mat_t, dy_mat)  # (G, K, n*Ho*Wo)
                col2im(dcols.reshape(cols_shape), dxp[batch], geo.stride, geo.dilation)
                del dcols  # before the next chunk allocates its own
            del dy_mat
        db = dy.sum(axis=(0, 2, 3)) if geo.has_bias and compute_dw else None
        return (geo.crop(dxp) if compute_dx else None), \
            (dw_mat.reshape(geo.w_shape) if compute_dw else None), db


def _pool_cols(x, geo, fill):
    """Columns (kh*kw, N*C*Ho*Wo): each channel pooled as its own one-channel image."""
    xp = pad_nchw(x, geo.pad, value=fill).reshape(geo.N * geo.C, 1, geo.Hp, geo.Wp)
    cols = im2col(xp, geo.kh, geo.kw, geo.Ho, geo.Wo, geo.stride, (1, 1))
    return cols.reshape(geo.kh * geo.kw, -1)


def _pool_col2im(dcols, geo):
    dxp = np.zeros((geo.N * geo.C, 1, geo.Hp, geo.Wp), dtype=geo.dtype)
    col2im(dcols.reshape(1, geo.kh, geo.kw, geo.N * geo.C, geo.Ho, geo.Wo), dxp, geo.stride,
           (1, 1))
    return geo.crop(dxp.reshape(geo.N, geo.C, geo.Hp, geo.Wp))


@quiet_nonfinite
def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """argmax down the tap axis of the columns (padding is -inf and never wins)."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    cols = _pool_cols(x, geo, -np.inf)
    argmax = cols.argmax(axis=0)  # first maximum in row-major tap order; NaN wins
    y = cols[argmax, np.arange(cols.shape[1])]
    if any(geo.pad):  # an all -inf window must not pick a padding cell
        first_real = np.broadcast_to(geo.first_real_tap().ravel(), (geo.N * geo.C, geo.Ho * geo.Wo))
        argmax = np.where(y == -np.inf, first_real.ravel(), argmax)
    return y.reshape(geo.y_shape), (argmax, geo)


@quiet_nonfinite
def max_pool2d_backward(dy, cache):
    """dy placed at each window's winning tap of zero columns, then col2im."""
    argmax, geo = cache
    check_grad(dy, geo)
    dcols = np.zeros((geo.kh * geo.kw, argmax.size), dtype=geo.dtype)
    dcols[argmax, np.arange(argmax.size)] = dy.ravel()
    return _pool_col2im(dcols, geo)


@quiet_nonfinite
def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """Mean down the tap axis of the columns."""
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    y = _pool_cols(x, geo, 0.0).sum(axis=0) / (geo.kh * geo.kw)
    return y.reshape(geo.y_shape), (geo,)


@quiet_nonfinite
def avg_pool2d_backward(dy, cache):
    """dy / (kh*kw) broadcast to every tap of the columns, then col2im."""
    (geo,) = cache
    check_grad(dy, geo)
    share = (dy / (geo.kh * geo.kw)).ravel()
    dcols = np.broadcast_to(share, (geo.kh * geo.kw, share.size))
    return _pool_col2im(dcols, geo)
