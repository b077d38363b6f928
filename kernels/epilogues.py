"""Fused epilogues: a convolution followed by ReLU as one backend call (an optional capability).

    y, cache = conv2d_relu_forward(backend, x, w, b, stride=..., padding=..., ...)
    dx, dw, db = conv2d_relu_backward(backend, dy, cache, compute_dx=..., compute_dw=...)

computes y = max(conv(x, w) + b, 0) and, from the gradient dy of y, the gradients of the
convolution for dz = dy * (y > 0): ReLU's backward (the subgradient 0 at 0, and NaN staying
NaN in both directions, exactly as cnn.layers.ReLU). Unfused, ReLU costs three passes over
the activation: the mask and the maximum forward, the product backward. A backend that
touches y and dy anyway - the blocked one converts both between layouts - applies them in
that pass and saves all three; it says so by defining both optional functions

    conv2d_relu_forward(x, w, b=None, *, stride, padding, dilation, groups) -> (y, cache)
    conv2d_relu_backward(dy, cache, *, compute_dx=True, compute_dw=True) -> (dx, dw, db)

with the conv2d_forward/conv2d_backward shapes (kernels.Backend). Its cache may refer to y:
do not modify y before the backward pass. For any other backend the functions here compose
its conv2d_forward with np.maximum, and dy * (y > 0) with its conv2d_backward: the same
numbers as a separate ReLU layer, so a caller can always ask for the pair, and a dispatcher
(auto) can offer it whichever algorithm wins a layer.
"""

from __future__ import annotations

import numpy as np

from .plugins import capabilities


def fuses_relu(backend) -> bool:
    """Whether `backend` applies ReLU inside its own convolution passes."""
    return capabilities(backend).fuses_relu


def conv2d_relu_forward(backend, x, w, b=None, **params):
    """(max(conv2d(x, w, b), 0) (N, F, Ho, Wo), cache): the backend's fused pass when it has
    one, else its conv2d_forward then np.maximum."""
    if fuses_relu(backend):
        y, cache = backend.conv2d_relu_forward(x, w, b, **params)
        return y, (True, cache)
    z, cache = backend.conv2d_forward(x, w, b, **params)
    y = np.maximum(z, z.dtype.type(0))
    return y, (False, (y, cache))


def conv2d_relu_backward(backend, dy, cache, *, compute_dx=True, compute_dw=True):
    """(dx, dw, db) of the convolution for the gradient dy (N, F, Ho, Wo) of its ReLU'd output,
    from the cache of conv2d_relu_forward with the same backend."""
    fused, inner = cache
    if fused:
        return backend.conv2d_relu_backward(dy, inner, compute_dx=compute_dx,
                                            compute_dw=compute_dw)
    y, inner = inner
    if not isinstance(dy, np.ndarray) or dy.shape != y.shape:
        shape = getattr(dy, "shape", type(dy).__name__)
        raise ValueError(f"dy has shape {shape}, expected the output's {y.shape}")
    return backend.conv2d_backward(dy * (y > 0), inner, compute_dx=compute_dx,
                                   compute_dw=compute_dw)
