"""JAX's convolution in our contract: lax.conv_general_dilated, compiled by XLA once per
geometry, each backward pass a program of its own.

What JAX computes natively (jax/jaxlib 0.10, CPU): XLA compiles the NCHW/OIHW convolution
into a program whose layout assignment transposes the operands to NHWC/HWIO (copies inside
the compiled program, visible in `as_text()`) and runs Eigen's spatial convolution
(im2col-like packing + Eigen's GEMM kernels) on its intra-op thread pool. Padding, stride,
dilation and groups (feature_group_count) are all native.

Passes: the forward is conv(x, w) (+ b); conv is linear in x and linear in w, so
backward-data is the linear transpose of x -> conv(x, w) applied to dy (a transposed conv,
no forward recomputed) and backward-weights the linear transpose of w -> conv(x, w), with
db = dy.sum over (N, H, W) in the same program. Each of the three is compiled ahead of time
(`jit(...).lower(...).compile()`) on its first use for a geometry (shapes, dtype, bias,
stride, padding, dilation, groups: the ConvGeometry is the cache key) and reused after:
compilation is the first call's cost, never the steady time's. The programs of the 64
most recently used geometries are kept.

What the wrapper converts, inside the timed call: NumPy inputs to device buffers (a copy;
x and w are kept as device arrays in the cache, so backward does not convert them again),
and results back to NumPy with np.array, a copy, because a NumPy view of a JAX buffer is
read-only and callers may update gradients in place. Every call blocks until the result is
complete (the copy waits for it): timed to completion.

Padding in float64: XLA's float64 convolution skips the taps that fall on padding, so an
infinite weight that meets only padding gives 0 where the definition's 0 * inf gives NaN:
    x = np.ones((1, 1, 3, 3)); w = np.zeros((1, 1, 3, 3)); w[0, 0, 0, 0] = np.inf
    lax.conv_general_dilated(x, w, (1, 1), [(1, 1), (1, 1)])[0, 0, 0]  # [0, 0, 0], not NaN
(float32 gives NaN, as defined). For float64 the wrapper pads x explicitly inside the
program (lax.pad, which XLA fuses into its layout copy) and convolves with padding 0, which
multiplies the padding as the definition does.

float64: JAX computes float32 unless jax_enable_x64 is on, and would silently return
float32 for float64 input. This module turns it on at import (jax.config.update,
process-wide: later JAX code in this process sees 64-bit defaults too), so float64 in is
float64 computed and out; float32 stays float32.

Threads: XLA's CPU client sizes its thread pool from the cores it sees and has no public
knob for the count; `versions()` reports it. With kernels.support.runtime pinned to all
usable cores (the benchmark's default) the counts agree; a lower pin is not applied to JAX.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import jax
import numpy as np
from jax import lax

from ...shapes import check_grad, conv2d_geometry
from ...support import runtime
from ...vocabulary import Pass

jax.config.update("jax_enable_x64", True)  # see the docstring: never float32 for float64

name = "jax"
_DIMENSIONS = ("NCHW", "OIHW", "NCHW")

#: ConvGeometry -> {Pass: compiled program},
#: the MAX_GEOMETRIES most recently used (a test run visits hundreds of geometries)
COMPILED: OrderedDict = OrderedDict()
MAX_GEOMETRIES = 64


def versions() -> dict:
    """jax, jaxlib, XLA's platform and the thread count it can use."""
    import jaxlib
    device = jax.devices("cpu")[0]
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "xla_platform": f"{device.platform} ({device.device_kind})",
            "threads": runtime.usable_cores(),  # XLA's pool: every usable core (docstring)
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


def unsupported(geo) -> str | None:
    """None: XLA computes every geometry kernels.shapes accepts, float32 and float64."""
    return None


def _conv(geo):
    padding = [(geo.pad[0], geo.pad[1]), (geo.pad[2], geo.pad[3])]
    explicit = geo.dtype == np.float64 and any(geo.pad)  # see the docstring: 0 * inf

    def conv(x, w):
        if explicit:
            x = lax.pad(x, np.zeros((), geo.dtype), [(0, 0, 0), (0, 0, 0),
                                                     (*padding[0], 0), (*padding[1], 0)])
        return lax.conv_general_dilated(x, w, geo.stride, [(0, 0), (0, 0)] if explicit
                                        else padding, rhs_dilation=geo.dilation,
                                        dimension_numbers=_DIMENSIONS,
                                        feature_group_count=geo.groups)
    return conv


def _programs(geo):
    """The three passes of `geo` as functions to compile, with their argument specs."""
    conv = _conv(geo)
    spec = lambda shape: jax.ShapeDtypeStruct(shape, geo.dtype)  # noqa: E731
    x_spec, w_spec, y_spec = spec(geo.x_shape), spec(geo.w_shape), spec(geo.y_shape)

    def forward(x, w, *b):
        y = conv(x, w)
        return y + b[0][None, :, None, None] if b else y

    def backward_data(w, dy):
        return jax.linear_transpose(lambda x: conv(x, w), x_spec)(dy)[0]

    def backward_weights(x, dy):
        dw = jax.linear_transpose(lambda w: conv(x, w), w_spec)(dy)[0]
        return (dw, dy.sum(axis=(0, 2, 3))) if geo.has_bias else (dw,)

    bias = (spec((geo.F,)),) if geo.has_bias else ()
    return {Pass.FORWARD: (forward, (x_spec, w_spec, *bias)),
            Pass.BACKWARD_DATA: (backward_data, (w_spec, y_spec)),
            Pass.BACKWARD_WEIGHTS: (backward_weights, (x_spec, y_spec))}


def _compile(geo, which: Pass):
    fn, specs = _programs(geo)[which]
    return jax.jit(fn).lower(*specs).compile()


def program(geo, which: Pass):
    """The compiled program of pass `which` for `geo`: compiled on first use, then reused."""
    per_geometry = COMPILED.setdefault(geo, {})
    COMPILED.move_to_end(geo)
    while len(COMPILED) > MAX_GEOMETRIES:
        COMPILED.popitem(last=False)
    if which not in per_geometry:
        per_geometry[which] = _compile(geo, which)
    return per_geometry[which]


def _result(a) -> np.ndarray:
    return np.array(a)  # waits for the computation, and a writable copy (see docstring)


def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """y = conv_general_dilated(x, w) + b, compiled for this geometry."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    xj, wj = jax.device_put(x), jax.device_put(w)
    args = (xj, wj) if b is None else (xj, wj, jax.device_put(b))
    y = _result(program(geo, Pass.FORWARD)(*args))
    return y, (xj, wj, geo)


def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """dx and (dw, db) from separate compiled programs: a pass not asked for never runs."""
    xj, wj, geo = cache
    check_grad(dy, geo)
    if not (compute_dx or compute_dw):
        return None, None, None
    dyj = jax.device_put(dy)
    dx = _result(program(geo, Pass.BACKWARD_DATA)(wj, dyj)) if compute_dx else None
    dw = db = None
    if compute_dw:
        dw, *db = (_result(a) for a in program(geo, Pass.BACKWARD_WEIGHTS)(xj, dyj))
        db = db[0] if db else None
    return dx, dw, db


POOLING_FROM = "numba"  # the registry lends it the shared pooling (kernels.backends.pooling)
