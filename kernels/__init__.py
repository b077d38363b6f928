"""Convolution and pooling backends behind one contract: the registry and the contract itself.

    import kernels
    kernels.available()   # ['naive', 'strided', 'im2col', 'numba', ..., 'auto', 'torch', ...]
    b = kernels.get_backend("im2col")    # an object that implements kernels.Backend
    y, cache = b.conv2d_forward(x, w, bias, stride=1, padding=0, dilation=1, groups=1)
    dx, dw, db = b.conv2d_backward(dy, cache)

The package is layered, bottom to top, and nothing imports upwards:

    kernels.support   process settings (threads, malloc) and atomic output files
    kernels.shapes    the geometry and argument validation every backend shares
    kernels           this registry, the `Backend` contract, and plug-in discovery (plugins)
    kernels.backends  one algorithm per module or package (naive, strided, im2col, numba,
                      winograd, fft), `auto`, and the frameworks' convolutions (libraries)
    kernels.conformance  the suite any backend must pass (`python -m kernels verify NAME`)
    cnn               the CNN built on the contract (a separate package)
    kernels.bench     measurement: `python -m kernels bench`, the only part that runs whole CNNs

Anyone's backend joins the registry (see `kernels.plugins`): a package's entry point in the
group `convbench.backends`, the CONVBENCH_BACKENDS variable, or `kernels.register(...)`. The
registry maps names to module paths and loads each backend on first use, so `import kernels`
stays cheap and Numba, PyTorch or JAX are imported only when their backend is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from . import plugins
from .plugins import (ALGORITHM, ALL_PASSES, BACKWARD_DATA, BACKWARD_WEIGHTS, DISPATCHER,
                      FORWARD, LIBRARY, REFERENCE, ROLES)
from .vocabulary import Pass

if TYPE_CHECKING:
    import numpy as np


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
    Not every backend computes every pass: `PASSES` (default `ALL_PASSES`, the members of
    `kernels.Pass`, which equal their names) names the ones it does; a forward-only backend
    (PASSES = (FORWARD,)) need not define conv2d_backward.

    Capabilities only some backends have are optional attributes, looked up with getattr:
    `decisions()`, `adopt(choices)` and `winner(cache)` on a dispatcher (see auto);
    `MAX_WORKSPACE_BYTES` and `chunk_count(geometry, itemsize)` where the batch is chunked
    under a workspace cap; `POOLING_FROM`, the backend whose pooling one that only convolves
    uses; `NONFINITE_SPREADS` where a NaN or inf reaches more outputs than the definition's
    (transform algorithms mix values); `versions()` where the backend wraps other libraries;
    `ERROR_MODEL` ("winograd", "fft") where its rounding is not a plain sum's (default
    "direct": the conformance suite's elementwise bound, see kernels.conformance.compare);
    `conv2d_relu_forward` and `conv2d_relu_backward` where a following ReLU is fused into
    the passes (kernels.epilogues, which composes them for every other backend);
    `conversions(x, w, b, dy, **params)` where each pass converts layouts: {pass: a call
    doing only its conversions}, so the report can say what share of a pass they take.
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
    """Usable backend names: ours in ladder order, then the libraries; only `role` when
    given. A framework that is not installed, or a plug-in that failed to load, is absent
    (`python -m kernels list` says why)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose from {', '.join(map(repr, ROLES))}")
    return [e.name for e in plugins.entries() if role in (None, e.role) and plugins.usable(e)]


def role(name: str) -> str:
    """What the backend called `name` is for: REFERENCE, ALGORITHM, DISPATCHER or LIBRARY."""
    return _entry(name).role


def is_ours(name: str) -> bool:
    """Whether `name` is one of this project's own backends (not a framework or plug-in):
    only ours are offered to auto, crowned "best of ours" or judged by our targets."""
    return _entry(name).role != LIBRARY


def origin(name: str) -> str:
    """Where the backend came from: 'built-in', 'framework', 'entry point (<dist>)',
    'CONVBENCH_BACKENDS' or 'register()'."""
    return _entry(name).origin


def get_backend(name: str) -> Backend:
    """The backend called `name`, loaded on first use. An unknown name is a ValueError
    listing the known ones; an unavailable one, a ValueError saying why."""
    entry = _entry(name)
    if entry.problem is None:
        plugins.load(entry)
    if entry.problem is not None:
        raise ValueError(f"backend {name!r} is unavailable: {entry.problem}")
    return entry.backend


def passes(backend) -> tuple[str, ...]:
    """The passes a backend (an object or a registered name) computes, in FORWARD,
    BACKWARD_DATA, BACKWARD_WEIGHTS order."""
    if isinstance(backend, str):
        backend = get_backend(backend)
    return plugins.declared_passes(backend)


def register(name: str, backend, *, role: str = LIBRARY) -> None:
    """Add `backend` (an object or module implementing `Backend`) under `name` at run time.
    A taken name, a bad role or a missing method is an error here, not a broken registry."""
    plugins.register(name, backend, role)


def status(load: bool = True) -> list[dict]:
    """Every known backend, usable or not: name, role, origin, passes, status ('available'
    or 'unavailable') and the one-line reason. `load` imports each one to find out."""
    return plugins.status(load)


def _entry(name):
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {type(name).__name__}")
    entry = plugins.find(name)
    if entry is None:
        raise ValueError(f"unknown backend {name!r}{plugins.did_you_mean(name)}; "
                         f"available: {', '.join(available())}")
    return entry


__all__ = ["Backend", "available", "get_backend", "role", "is_ours", "origin", "passes",
           "register", "status", "REFERENCE", "ALGORITHM", "DISPATCHER", "LIBRARY", "ROLES",
           "Pass", "FORWARD", "BACKWARD_DATA", "BACKWARD_WEIGHTS", "ALL_PASSES"]
