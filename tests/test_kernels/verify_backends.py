"""Plug-in backends for tests/test_kernels/test_verify.py, registered through
CONVBENCH_BACKENDS as a user's would be: im2col's kernels behind a narrower declared range,
with a deliberately wrong weight gradient, or computing the forward pass only."""

from __future__ import annotations

import kernels
from kernels.shapes import conv2d_geometry

IM2COL = kernels.get_backend("im2col")


class Im2colPlugin:
    """im2col that declares groups=1 only (and refuses the rest, naming the reason)."""

    max_pool2d_forward = staticmethod(IM2COL.max_pool2d_forward)
    max_pool2d_backward = staticmethod(IM2COL.max_pool2d_backward)
    avg_pool2d_forward = staticmethod(IM2COL.avg_pool2d_forward)
    avg_pool2d_backward = staticmethod(IM2COL.avg_pool2d_backward)

    def __init__(self, name):
        self.name = name

    def unsupported(self, geometry):
        return None if geometry.groups == 1 else "groups=1 only"

    def conv2d_forward(self, x, w, b=None, **params):
        reason = self.unsupported(conv2d_geometry(x, w, b, **params))
        if reason is not None:
            raise ValueError(f"{self.name}: {reason}")
        return IM2COL.conv2d_forward(x, w, b, **params)

    def conv2d_backward(self, dy, cache, *, compute_dx=True, compute_dw=True):
        return IM2COL.conv2d_backward(dy, cache, compute_dx=compute_dx, compute_dw=compute_dw)


class WrongWeightGradient(Im2colPlugin):
    """dw off by 0.1 %: far beyond rounding, small enough to look plausible."""

    def conv2d_backward(self, dy, cache, *, compute_dx=True, compute_dw=True):
        dx, dw, db = super().conv2d_backward(dy, cache, compute_dx=compute_dx,
                                             compute_dw=compute_dw)
        return dx, None if dw is None else dw * dw.dtype.type(1.001), db


class ForwardOnly(Im2colPlugin):
    """Declares the forward pass only, and has no conv2d_backward at all."""

    PASSES = (kernels.FORWARD,)
    conv2d_backward = None


GOOD = Im2colPlugin("good")
WRONG_DW = WrongWeightGradient("wrongdw")
FORWARD_ONLY = ForwardOnly("fwdonly")
