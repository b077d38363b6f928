"""The blocked layouts and the conversions to and from NCHW (their time is the backend's).

Activations nChw{B}c: x (N, C, H, W) becomes xb (N, G*Cgb, Hp, Wp, B), Cgb = ceil(Cg / B)
blocks per group: block g*Cgb + cb, lane l holds channel g*Cg + cb*B + l, or 0 past the
group's end; the spatial padding is written in the same pass, so a kernel never tests a
border. One pixel's B channels are one contiguous vector. Groups are blocked each on its own
(a block never straddles two groups), so a kernel's block reduction stays inside its group.
Depthwise convolutions block the channels across the groups instead (G = 1 here, see
depthwise.py): there a block is B independent filters.

Weights OIhw{B}i{B}o: w (F, Cg, kh, kw) becomes wf (G*Fgb, Cgb, kh, kw, B_in, B_out) for
forward and backward-weights (a row w[.., c, :] is one output block's vector for input lane
c) and wt (G*Cgb, Fgb, kh, kw, B_out, B_in) for backward-data, the transposed problem. The
weights are small: NumPy pads and transposes them.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ...support.jit import njit
from ...support.sizes import ceil_div

_JIT = dict(cache=True, nogil=True)


def blocks(channels: int, width: int) -> int:
    return ceil_div(channels, width)


# Both conversions go one row of one block at a time: the blocked row (Wp*B values) stays in
# L1 while the B channel rows are copied in (or out) one after the other, so every stream on
# the NCHW side is contiguous. (Lanes outermost over a whole plane wrote every 64-byte line of
# the blocked plane B times over: 3-5x slower; indexing row[left + v] instead of a slice
# cost 1.5x: Numba tests every possibly negative index.)

@njit(parallel=True, **_JIT)
def _block(x, groups, Cg, top, left, gate, out):
    """out (N, G*Cgb, Hp, Wp, B) from x (N, C, H, W): the channels in place, zeros around;
    where gate (x's shape, or empty) is given, x * (gate > 0): ReLU's backward on the way in,
    gate being the ReLU's output."""
    N, C, H, W = x.shape
    blocks_total, Hp, Wp, B = out.shape[1], out.shape[2], out.shape[3], out.shape[4]
    Cgb = blocks_total // groups
    gated = gate.shape[0] > 0
    for job in prange(N * blocks_total):
        n, blk = job // blocks_total, job % blocks_total
        g, cb = blk // Cgb, blk % Cgb
        real = min(B, Cg - cb * B)
        first = g * Cg + cb * B
        plane = out[n, blk]
        for u in range(Hp):
            h = u - top
            row = plane[u]
            if h < 0 or h >= H:
                row[:] = 0
                continue
            row[:left] = 0
            row[left + W:] = 0
            if real < B:
                row[:, real:] = 0
            inner = row[left:left + W]  # a slice: no possibly negative index per element
            for lane in range(real):
                src = x[n, first + lane, h]
                if gated:
                    on = gate[n, first + lane, h]
                    for v in range(W):
                        # a product, as dy * mask (a NaN in dy stays NaN where the mask is 0),
                        # and branch-free: a random mask would mispredict half the branches
                        value = src[v]
                        inner[v, lane] = value if on[v] > 0 else value * 0
                else:
                    for v in range(W):
                        inner[v, lane] = src[v]


@njit(parallel=True, **_JIT)
def _unblock(blocked, groups, Fg, top, left, bias, relu, out):
    """out (N, G*Fg, H, W) = the real channels of blocked (N, G*Fgb, Hb, Wb, B) from row
    `top` and column `left` on (a crop when the blocked planes carry padding), plus
    bias[channel] when bias is not empty, then max(., 0) when relu: the forward's ReLU
    epilogue, in the same pass (NaN stays NaN, as np.maximum)."""
    N, F, H, W = out.shape
    blocks_total, B = blocked.shape[1], blocked.shape[4]
    Fgb = blocks_total // groups
    for job in prange(N * blocks_total):
        n, blk = job // blocks_total, job % blocks_total
        g, fb = blk // Fgb, blk % Fgb
        real = min(B, Fg - fb * B)
        first = g * Fg + fb * B
        plane = blocked[n, blk]
        for h in range(H):
            row = plane[top + h, left:left + W]
            for lane in range(real):
                dst = out[n, first + lane, h]
                # one pass, each value loaded once and stored unconditionally: it vectorises
                # (`relu` is loop-invariant)
                if bias.shape[0]:
                    add = bias[first + lane]
                    for v in range(W):
                        value = row[v, lane] + add
                        dst[v] = 0 if relu and value <= 0 else value
                else:
                    for v in range(W):
                        value = row[v, lane]
                        dst[v] = 0 if relu and value <= 0 else value


def block_activations(x, groups, width, pad=(0, 0, 0, 0), gate=None):
    """x (N, C, H, W), any strides -> (N, G*Cgb, H+top+bottom, W+left+right, width); with
    `gate` (x's shape: a ReLU's output), x * (gate > 0) is blocked instead (its backward)."""
    N, C, H, W = x.shape
    Cg = C // groups
    top, bottom, left, right = pad
    out = np.empty((N, groups * blocks(Cg, width), H + top + bottom, W + left + right, width),
                   dtype=x.dtype)
    gate = np.zeros((0, 0, 0, 0), x.dtype) if gate is None else np.ascontiguousarray(gate)
    _block(np.ascontiguousarray(x), groups, Cg, top, left, gate, out)
    return out


def unblock_activations(blocked, groups, channels, shape_hw, corner=(0, 0), bias=None,
                        relu=False):
    """The NCHW array (N, channels, *shape_hw) that `blocked` holds, cropped at `corner`,
    plus `bias` (channels,) when given, through max(., 0) when `relu`."""
    out = np.empty((blocked.shape[0], channels) + tuple(shape_hw), dtype=blocked.dtype)
    bias = np.zeros(0, blocked.dtype) if bias is None else np.ascontiguousarray(bias)
    _unblock(blocked, groups, channels // groups, corner[0], corner[1], bias, relu, out)
    return out


def channel_sums(blocked, groups, channels):
    """(channels,): each real channel of blocked (N, G*Cgb, H, W, B) summed over N, H, W (the
    bias gradient, from the blocked dy: the masked one when ReLU is fused)."""
    G = groups
    sums = blocked.sum(axis=(0, 2, 3)).reshape(G, -1)
    return np.ascontiguousarray(sums[:, :channels // G]).reshape(channels)


def _grouped_padded(w, groups, width):
    """w (F, Cg, kh, kw) -> (G, Fgb, B_out, Cgb, B_in, kh, kw), zero past each group's end."""
    F, Cg, kh, kw = w.shape
    Fg = F // groups
    Fgb, Cgb = blocks(Fg, width), blocks(Cg, width)
    padded = np.zeros((groups, Fgb * width, Cgb * width, kh, kw), dtype=w.dtype)
    padded[:, :Fg, :Cg] = w.reshape(groups, Fg, Cg, kh, kw)
    return padded.reshape(groups, Fgb, width, Cgb, width, kh, kw)


def block_weights(w, groups, width):
    """wf (G*Fgb, Cgb, kh, kw, B_in, B_out): forward's and backward-weights' layout."""
    g = _grouped_padded(w, groups, width)
    G, Fgb, B, Cgb, _, kh, kw = g.shape
    return np.ascontiguousarray(g.transpose(0, 1, 3, 5, 6, 4, 2)).reshape(
        G * Fgb, Cgb, kh, kw, B, B)


def block_weights_transposed(w, groups, width):
    """wt (G*Cgb, Fgb, kh, kw, B_out, B_in): backward-data's layout."""
    g = _grouped_padded(w, groups, width)
    G, Fgb, B, Cgb, _, kh, kw = g.shape
    return np.ascontiguousarray(g.transpose(0, 3, 1, 5, 6, 2, 4)).reshape(
        G * Cgb, Fgb, kh, kw, B, B)


def unblock_weights(wf, groups, w_shape):
    """The (F, Cg, kh, kw) weights that wf (G*Fgb, Cgb, kh, kw, B_in, B_out) holds."""
    F, Cg, kh, kw = w_shape
    blocks_out, Cgb, _, _, B, _ = wf.shape
    g = wf.reshape(groups, blocks_out // groups, Cgb, kh, kw, B, B).transpose(0, 1, 6, 2, 5, 3, 4)
    g = g.reshape(groups, -1, Cgb * B, kh, kw)[:, :F // groups, :Cg]
    return np.ascontiguousarray(g).reshape(F, Cg, kh, kw)
