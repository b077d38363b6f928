"""Convolution and pooling backends behind one contract: the registry and the contract itself.

    import kernels
    kernels.available()   # ['naive', 'strided', 'im2col', 'numba', ..., 'auto', 'torch', ...]
    b = kernels.get_backend("im2col")    # an object that implements kernels.Backend
    y, cache = b.conv2d_forward(x, w, bias, stride=1, padding=0, dilation=1, groups=1)
    dx, dw, db = b.conv2d_backward(dy, cache)

The package is layered, bottom to top, and nothing imports upwards:

    kernels.support   process settings (threads, malloc) and atomic output files
    kernels.shapes    the geometry and argument validation every backend shares
    kernels           this registry, the `Backend` contract and the capabilities record
                      (contract), and plug-in discovery (plugins, discovery)
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

from . import plugins
from .contract import Backend, Capabilities
from .plugins import (ALGORITHM, ALL_PASSES, BACKWARD_DATA, BACKWARD_WEIGHTS, DISPATCHER,
                      FORWARD, LIBRARY, REFERENCE, ROLES)
from .vocabulary import Pass

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


def capabilities(backend) -> Capabilities:
    """What a backend (an object or a registered name) can do beyond the six functions:
    read once when it loaded, every optional attribute with its default filled in (see
    kernels.contract.Capabilities)."""
    if isinstance(backend, str):
        backend = get_backend(backend)
    return plugins.capabilities(backend)


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


__all__ = ["Backend", "Capabilities", "capabilities", "available", "get_backend", "role",
           "is_ours", "origin", "passes", "register", "status", "REFERENCE", "ALGORITHM", "DISPATCHER", "LIBRARY", "ROLES",
           "Pass", "FORWARD", "BACKWARD_DATA", "BACKWARD_WEIGHTS", "ALL_PASSES"]
