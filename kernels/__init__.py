"""Convolution and pooling backends behind one contract: the registry and the contract itself.

    import kernels
    kernels.available()   # ['naive', 'strided', 'im2col', 'numba', 'winograd2x2',
                          #  'winograd4x4', 'fft', 'auto']
    b = kernels.get_backend("im2col")    # an object that implements kernels.Backend
    y, cache = b.conv2d_forward(x, w, bias, stride=1, padding=0, dilation=1, groups=1)
    dx, dw, db = b.conv2d_backward(dy, cache)

The package is layered, bottom to top, and nothing imports upwards:

    kernels.support   process settings (threads, malloc) and atomic output files
    kernels.shapes    the geometry and argument validation every backend shares
    kernels           this registry and the `Backend` contract
    kernels.backends  one algorithm per module or package (naive, strided, im2col, numba,
                      winograd, fft) and `auto`
    cnn               the CNN built on the contract (a separate package)
    kernels.bench     measurement: `python -m kernels bench`, the only part that runs whole CNNs

The registry maps names to module paths, so `import kernels` stays cheap and Numba is
imported only when its backend is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

# What a backend is for, so callers ask the registry instead of comparing names.
REFERENCE = "reference"    # the executable definition: obviously right, far too slow to train
ALGORITHM = "algorithm"    # a convolution algorithm: the rungs of the ladder
DISPATCHER = "dispatcher"  # computes nothing itself: hands each layer to an algorithm

# Ladder order: each rung is a different algorithm, not a tuning of the previous one.
# "module:attribute" names a backend object inside a module (one algorithm, two tile sizes).
_REGISTRY = {
    "naive": ("kernels.backends.naive", REFERENCE),
    "strided": ("kernels.backends.strided", ALGORITHM),
    "im2col": ("kernels.backends.im2col", ALGORITHM),
    "numba": ("kernels.backends.numba", ALGORITHM),
    "winograd2x2": ("kernels.backends.winograd:winograd2x2", ALGORITHM),
    "winograd4x4": ("kernels.backends.winograd:winograd4x4", ALGORITHM),
    "fft": ("kernels.backends.fft", ALGORITHM),
    "auto": ("kernels.backends.auto", DISPATCHER),
}


@runtime_checkable
class Backend(Protocol):
    """The contract: six functions with PyTorch's conv2d / max_pool2d / avg_pool2d semantics.

    Arrays are NCHW: x (N, C, H, W), weight w (F, C // groups, kh, kw), bias b (F,) or None,
    outputs y (N, F, Ho, Wo) for conv and (N, C, Ho, Wo) for pooling; upstream gradients dy
    have y's shape and dtype. float32 and float64 in, the same dtype out; non-contiguous
    views are accepted; inputs are never modified. Parameters are an int or an (h, w) pair;
    conv padding may also be 'valid' or 'same' (stride 1). Every backend validates its
    arguments with `kernels.shapes`, so bad input gets the same ValueError/TypeError,
    naming the argument, from all of them.

    Forward returns (y, cache); backward takes the upstream gradient and that cache. The
    cache may refer to x and w instead of copying them: do not modify them in between.

    Not every algorithm computes every configuration: `unsupported(geometry)` says why not
    (None: it does), and a forward pass outside them is a ValueError with that reason.

    Capabilities only some backends have are optional attributes, looked up with getattr:
    `decisions()`, `adopt(choices)` and `winner(cache)` on a dispatcher (see auto);
    `MAX_WORKSPACE_BYTES` and `chunk_count(geometry, itemsize)` where the batch is chunked
    under a workspace cap; `POOLING_FROM`, the backend whose pooling one that only convolves
    uses; `NONFINITE_SPREADS` where a NaN or inf reaches more outputs than the definition's
    (transform algorithms mix values).
    """

    name: str

    def unsupported(self, geometry) -> str | None:
        """None when this backend computes the conv geometry (kernels.shapes.ConvGeometry),
        else a short reason."""

    def conv2d_forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                       stride=1, padding=0, dilation=1, groups=1) -> tuple[np.ndarray, Any]:
        """y (N, F, Ho, Wo) = cross-correlation of x with w, plus b."""

    def conv2d_backward(self, dy: np.ndarray, cache: Any, *, compute_dx=True,
                        compute_dw=True) -> tuple[np.ndarray | None, ...]:
        """(dx (N, C, H, W), dw (F, C // groups, kh, kw), db (F,) or None without a bias).
        The input gradient (backward-data) and the parameter gradients (backward-weights,
        dw and db) are separate passes: a flag set to False skips its pass, and its results
        come back as None."""

    def max_pool2d_forward(self, x: np.ndarray, kernel_size, *, stride=None,
                           padding=0) -> tuple[np.ndarray, Any]:
        """y (N, C, Ho, Wo): the largest real (non-padding) element of each window; the
        first one in row-major order on ties; stride None means the kernel size."""

    def max_pool2d_backward(self, dy: np.ndarray, cache: Any) -> np.ndarray:
        """dx (N, C, H, W): each dy routed to its window's winner."""

    def avg_pool2d_forward(self, x: np.ndarray, kernel_size, *, stride=None,
                           padding=0) -> tuple[np.ndarray, Any]:
        """y (N, C, Ho, Wo): window sum / (kh * kw), zero padding counted."""

    def avg_pool2d_backward(self, dy: np.ndarray, cache: Any) -> np.ndarray:
        """dx (N, C, H, W): each dy / (kh * kw) spread over its window."""


def available(role: str | None = None) -> list[str]:
    """Registered backend names in ladder order; only those of `role` when given."""
    if role is not None and role not in (REFERENCE, ALGORITHM, DISPATCHER):
        raise ValueError(f"unknown role {role!r}; choose from "
                         f"{REFERENCE!r}, {ALGORITHM!r}, {DISPATCHER!r}")
    return [name for name, (_, r) in _REGISTRY.items() if role in (None, r)]


def role(name: str) -> str:
    """What the backend called `name` is for: REFERENCE, ALGORITHM or DISPATCHER."""
    return _REGISTRY[_known(name)][1]


def get_backend(name: str) -> Backend:
    """The backend called `name`; an unknown name is a ValueError listing the known ones."""
    module, _, attribute = _REGISTRY[_known(name)][0].partition(":")
    found = importlib.import_module(module)
    return getattr(found, attribute) if attribute else found


def _known(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {type(name).__name__}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(available())}")
    return name


__all__ = ["Backend", "available", "get_backend", "role", "REFERENCE", "ALGORITHM",
           "DISPATCHER"]
