"""Blocked backend: direct convolution on channel-blocked layouts with register tiles
(issue 16; Zhang, Franchetti & Low, ICML 2018; Georganas et al. 2018; oneDNN's nChw16c).

The maths is the definition (xp the padded input, g the group):

    y[n, f, i, j]  = b[f] + sum_{c, p, q} w[f, c, p, q] * xp[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw]
    dxp[.., i*sh + p*dh, j*sw + q*dw] += dy[n, f, i, j] * w[f, c, p, q]     (then cropped)
    dw[f, c, p, q] = sum_{n, i, j} dy[n, f, i, j] * xp[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw]

What changes is the data layout. Channels are cut into blocks of B = one vector register
(registers.py: 16 float32 with AVX-512, 8 with AVX2, half for float64), stored innermost:
x as (N, C/B, Hp, Wp, B), w as (F/B, C/B, kh, kw, B_in, B_out) (layout.py). Then a pixel's
B channels and a tap's B filters are each one vector load, and each kernel keeps a tile of
sums - T output pixels x one block of B channels - in registers for its whole reduction:
per input lane one weight vector, T broadcasts, T FMAs (forward.py; backward_data.py is the
same tile on the transposed problem, scattered per tap; backward_weights.py tiles input
lanes x filters and splits the batch sum into private partials). The multiply-adds have no
im2col copy, no GEMM call and no padded/dropped columns: only the definition's products,
so NaN and inf land where the naive definition puts them. Depthwise layers block the
channels across the groups (depthwise.py). Channel counts that are not a multiple of B are
zero-padded; the conversions to and from NCHW (with the spatial padding written in the same
pass) are part of every call's time (`conversions` names them, so the report can time their
share). They also carry the fused epilogue (kernels.epilogues): conv2d_relu_forward adds
the bias and applies ReLU while y is converted back, and its backward applies ReLU's mask
(y > 0, from the y the cache keeps) while dy is blocked.

Costs: the conversions read and write every activation once more per pass; a group whose
Cg or Fg is far below B wastes lanes (grouped layers with small groups); a kernel compiles
per dtype, block width and tile widths on first use, in every process (a few seconds:
registers.py says why it is not cached on disk).
"""

from __future__ import annotations

import numba
import numpy as np

from ...shapes import check_grad, conv2d_geometry, quiet_nonfinite
from . import backward_data, backward_weights, depthwise, forward, layout
from .registers import block_width, compiled_with_slp

name = "blocked"


def unsupported(geometry) -> str | None:
    """None: every valid configuration is computed."""
    return None


def _is_depthwise(geo) -> bool:
    return geo.Cg == 1 and geo.groups > 1


def _chunks(N):
    return backward_weights.batch_chunks(N, numba.get_num_threads())


@quiet_nonfinite
def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Block x (with its padding) and w, run the register-tiled kernel, unblock y (+ b)."""
    return _forward(x, w, b, dict(stride=stride, padding=padding, dilation=dilation,
                                  groups=groups), relu=False)


@quiet_nonfinite
def conv2d_relu_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """max(conv2d_forward(...), 0) in one call: the ReLU rides on the unblocking pass."""
    return _forward(x, w, b, dict(stride=stride, padding=padding, dilation=dilation,
                                  groups=groups), relu=True)


def _forward(x, w, b, params, relu):
    geo = conv2d_geometry(x, w, b, **params)
    B = block_width(geo.dtype)
    steps = (*geo.stride, *geo.dilation)
    if _is_depthwise(geo):
        y, (xb, wd) = depthwise.conv_forward(x, w, b, geo, B, relu)
        return y, (xb, wd, geo, B, y if relu else None)
    xb = layout.block_activations(x, geo.groups, B, geo.pad)
    wf = layout.block_weights(np.asarray(w), geo.groups, B)
    Cgb, Fgb = layout.blocks(geo.Cg, B), layout.blocks(geo.Fg, B)
    yb = np.empty((geo.N, wf.shape[0], geo.Ho, geo.Wo, B), dtype=geo.dtype)
    with compiled_with_slp():
        tiles = forward.pixels_per_tile(geo.Wo)
        forward.kernel(B, *tiles)(xb, wf, yb, Cgb, Fgb, geo.Cg, *steps)
    # the epilogue (bias, ReLU) is applied while the blocks are converted back: no extra pass
    # over y. The cache keeps y itself for ReLU's backward mask (y > 0): a bool mask written
    # here and read in backward measured slower (its select did not vectorise).
    y = layout.unblock_activations(yb, geo.groups, geo.F, (geo.Ho, geo.Wo), bias=b, relu=relu)
    return y, (xb, w, geo, B, y if relu else None)


@quiet_nonfinite
def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """dx by the transposed tile (scattered per tap), dw by batch-split partial sums; after
    conv2d_relu_forward, of dy * (y > 0), the mask applied while dy is blocked."""
    xb, w, geo, B, gate = cache
    check_grad(dy, geo)
    if _is_depthwise(geo):
        dx, dw, db = depthwise.conv_backward(dy, xb, w, geo, B, _chunks(geo.N), compute_dx,
                                            compute_dw, gate)
    else:
        dx, dw, db = _grouped_backward(dy, xb, w, geo, B, compute_dx, compute_dw, gate)
    return dx, dw, db if compute_dw and geo.has_bias else None


conv2d_relu_backward = conv2d_backward  # the cache says whether a ReLU was fused


def _grouped_backward(dy, xb, w, geo, B, compute_dx, compute_dw, gate):
    steps = (*geo.stride, *geo.dilation)
    Cgb, Fgb = layout.blocks(geo.Cg, B), layout.blocks(geo.Fg, B)
    dyb = layout.block_activations(dy, geo.groups, B, gate=gate)
    dx = dw = db = None
    if compute_dx:
        wt = layout.block_weights_transposed(np.asarray(w), geo.groups, B)
        dxb = np.empty_like(xb)
        with compiled_with_slp():
            tiles = forward.pixels_per_tile(geo.Wo)
            backward_data.kernel(B, *tiles)(dyb, wt, dxb, Cgb, Fgb, geo.Fg, *steps)
        dx = layout.unblock_activations(dxb, geo.groups, geo.C, (geo.H, geo.W),
                                        (geo.pad[0], geo.pad[2]))
    if compute_dw:
        partials = np.empty((_chunks(geo.N), dyb.shape[1], Cgb, geo.kh, geo.kw, B, B),
                            dtype=geo.dtype)
        with compiled_with_slp():
            taps = backward_weights.taps_per_tile(geo.kw)
            backward_weights.kernel(B, *taps)(xb, dyb, partials, Cgb, Fgb, geo.Cg, *steps)
        dw = layout.unblock_weights(backward_weights.reduce_partials(partials), geo.groups,
                                    geo.w_shape)
        db = layout.channel_sums(dyb, geo.groups, geo.F) if geo.has_bias else None
    return dx, dw, db


def conversions(x, w, b, dy, *, stride=1, padding=0, dilation=1, groups=1):
    """{pass: a call running only that pass's layout conversions} - what each pass does
    besides its kernel (blocking x or dy and w, unblocking y, dx or dw), for the report's
    share of the time they take (kernels.bench.measuring.layers)."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    B, w, corner = block_width(geo.dtype), np.asarray(w), (geo.pad[0], geo.pad[2])
    if _is_depthwise(geo):
        m, C = geo.F // geo.C, geo.C
        xb = layout.block_activations(x, 1, B, geo.pad)
        yb = np.zeros((geo.N * m, xb.shape[1], geo.Ho, geo.Wo, B), geo.dtype)
        wd = depthwise.weights_to_blocked(w, C, B)
        per_image = dy.reshape(geo.N * m, C, geo.Ho, geo.Wo)  # dy's bytes, as blocked there
        return dict(
            forward=lambda: (layout.block_activations(x, 1, B, geo.pad),
                             depthwise.weights_to_blocked(w, C, B),
                             layout.unblock_activations(yb, 1, C, (geo.Ho, geo.Wo))),
            backward_data=lambda: (layout.block_activations(per_image, 1, B),
                                   depthwise.tiled_weights(wd, geo.Wo),
                                   layout.unblock_activations(xb, 1, C, (geo.H, geo.W),
                                                              corner)),
            backward_weights=lambda: (layout.block_activations(per_image, 1, B),
                                      depthwise.weights_from_blocked(wd, C)))
    xb = layout.block_activations(x, geo.groups, B, geo.pad)
    yb = np.zeros((geo.N, geo.groups * layout.blocks(geo.Fg, B), geo.Ho, geo.Wo, B), geo.dtype)
    wf = layout.block_weights(w, geo.groups, B)
    return dict(
        forward=lambda: (layout.block_activations(x, geo.groups, B, geo.pad),
                         layout.block_weights(w, geo.groups, B),
                         layout.unblock_activations(yb, geo.groups, geo.F, (geo.Ho, geo.Wo),
                                                    bias=b)),
        backward_data=lambda: (layout.block_activations(dy, geo.groups, B),
                               layout.block_weights_transposed(w, geo.groups, B),
                               layout.unblock_activations(xb, geo.groups, geo.C,
                                                          (geo.H, geo.W), corner)),
        backward_weights=lambda: (layout.block_activations(dy, geo.groups, B),
                                  layout.unblock_weights(wf, geo.groups, geo.w_shape)))


# Pooling is not a convolution: the registry lends this backend the shared pooling
# (kernels.backends.pooling, the numba backend's).
POOLING_FROM = "numba"

__all__ = ["name", "unsupported", "conv2d_forward", "conv2d_backward", "conv2d_relu_forward",
           "conv2d_relu_backward", "conversions", "POOLING_FROM"]
