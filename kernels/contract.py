"""The contract: what every backend must define (`Backend`) and what some may (`Capabilities`).

The registry checks the first and builds the second once, when it loads a backend
(kernels.plugins.load); every caller then reads `kernels.capabilities(backend).x` instead of
probing the backend with getattr, so each optional attribute's default is written here only.
A backend states its capabilities as plain attributes - module attributes for a module,
class or instance attributes for an object - under the public names in `ATTRIBUTES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

from .support.sizes import WORKSPACE_CAP

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
    (None: it does; a backend without it computes every one), and a forward pass outside
    them is a ValueError with that reason. Not every backend computes every pass: `PASSES`
    (default `ALL_PASSES`, the members of `kernels.Pass`, which equal their names) names the
    ones it does; a forward-only backend (PASSES = (FORWARD,)) need not define
    conv2d_backward. One that only convolves may
    name, in `POOLING_FROM`, the backend whose pooling it uses, and leave the four pooling
    functions out: the registry binds that backend's. Every other optional attribute is a
    field of `Capabilities`.
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


# The Protocol's functions, read from it: the registry's contract check uses these.
METHODS = tuple(n for n, v in vars(Backend).items() if callable(v) and not n.startswith("_"))
OPTIONAL_METHODS = ("unsupported",)                  # default: computes every geometry
BACKWARD_METHODS = tuple(m for m in METHODS if m.endswith("_backward") and "pool" not in m)
POOL_METHODS = tuple(m for m in METHODS if "pool" in m)
CONV_METHODS = tuple(m for m in METHODS if m not in (*OPTIONAL_METHODS, *BACKWARD_METHODS,
                                                     *POOL_METHODS))


def computes_every_geometry(geometry) -> None:
    """The default `unsupported`: a backend that does not say otherwise computes them all."""
    return None


@dataclass(frozen=True)
class Capabilities:
    """What one backend can do beyond the six functions, with every default in one place.

    Built once by the registry when the backend loads; `kernels.capabilities(backend)`
    returns it. The public attribute each field is read from is in `ATTRIBUTES`.
    """
    passes: tuple[str, ...]                  # PASSES, validated (kernels.passes)
    unsupported: Callable = computes_every_geometry   # geometry -> reason or None
    pooling_from: str | None = None          # POOLING_FROM: whose pooling it uses
    max_workspace_bytes: int | None = None   # MAX_WORKSPACE_BYTES: chunks its batch under it
    workspace_estimate: Callable | None = None  # geometry -> bytes one call takes
    chunk_count: Callable | None = None      # (geometry, itemsize) -> chunks of the batch
    nonfinite_spreads: bool = False          # NONFINITE_SPREADS: a NaN reaches more outputs
    error_model: str = "direct"              # ERROR_MODEL: "direct", "winograd" or "fft"
    relu_forward: Callable | None = None     # conv2d_relu_forward: ReLU fused in the passes
    relu_backward: Callable | None = None    # conv2d_relu_backward
    conversions: Callable | None = None      # (x, w, b, dy, **params) -> {pass: call}
    versions: Callable | None = None         # () -> {package: version} of what it wraps
    threads: Callable | None = None          # () -> threads its runtime uses
    decisions: Callable | None = None        # a dispatcher's hooks (see kernels.backends.auto)
    adopt: Callable | None = None
    winner: Callable | None = None

    @property
    def workspace_cap(self) -> int:
        """The cap its workspace is held to: its own, else the shared WORKSPACE_CAP."""
        return WORKSPACE_CAP if self.max_workspace_bytes is None else self.max_workspace_bytes

    @property
    def fuses_relu(self) -> bool:
        return self.relu_forward is not None and self.relu_backward is not None

    @property
    def borrows_pooling(self) -> bool:
        return self.pooling_from is not None

    def over_cap(self, geometry) -> bool:
        """Whether its own estimate of one call's workspace (where it has one) exceeds its
        cap: running it would take that memory."""
        return self.workspace_estimate is not None and \
            self.workspace_estimate(geometry) > self.workspace_cap


# public attribute of a backend -> field of Capabilities (PASSES is validated separately)
ATTRIBUTES = {"unsupported": "unsupported", "POOLING_FROM": "pooling_from",
              "MAX_WORKSPACE_BYTES": "max_workspace_bytes",
              "workspace_estimate": "workspace_estimate", "chunk_count": "chunk_count",
              "NONFINITE_SPREADS": "nonfinite_spreads", "ERROR_MODEL": "error_model",
              "conv2d_relu_forward": "relu_forward", "conv2d_relu_backward": "relu_backward",
              "conversions": "conversions", "versions": "versions", "threads": "threads",
              "decisions": "decisions", "adopt": "adopt", "winner": "winner"}
_CALLABLE = {"unsupported", "workspace_estimate", "chunk_count", "relu_forward",
             "relu_backward", "conversions", "versions", "threads", "decisions", "adopt",
             "winner"}


def read(backend, passes: tuple[str, ...]) -> Capabilities:
    """The capabilities `backend` states (with `passes` already validated); a stated
    capability that should be callable and is not is a ValueError naming the attribute."""
    found = {}
    for attribute, field in ATTRIBUTES.items():
        value = getattr(backend, attribute, None)
        if value is None:
            continue
        if field in _CALLABLE and not callable(value):
            raise ValueError(f"its {attribute} attribute is not callable")
        found[field] = value
    return Capabilities(passes=passes, **found)


def lend_pooling(backend, lender_name: str | None, lender) -> str | None:
    """Give a backend that borrows pooling (POOLING_FROM = lender_name) the lender's pooling
    functions it lacks, so every caller finds all six functions on every backend; why that
    is impossible (the lender is unusable), else None."""
    missing = [m for m in POOL_METHODS if not callable(getattr(backend, m, None))]
    if lender_name is None or not missing:
        return None
    if lender is None:
        return f"POOLING_FROM names {lender_name!r}, which is not a usable backend"
    for method in missing:
        setattr(backend, method, getattr(lender, method))
    return None
