"""Convolution and pooling backends behind one contract.

    import kernels
    kernels.available()                  # ['naive', 'strided', 'im2col', 'numba', 'auto']
    b = kernels.get_backend("im2col")
    y, cache = b.conv2d_forward(x, w, bias, stride=1, padding=0, dilation=1, groups=1)
    dx, dw, db = b.conv2d_backward(dy, cache)      # db is None without a bias
    y, cache = b.max_pool2d_forward(x, kernel_size, stride=None, padding=0)
    dx = b.max_pool2d_backward(dy, cache)
    y, cache = b.avg_pool2d_forward(x, kernel_size, stride=None, padding=0)
    dx = b.avg_pool2d_backward(dy, cache)

Semantics are PyTorch's conv2d / max_pool2d / avg_pool2d (NCHW, cross-correlation,
ceil_mode=False, count_include_pad=True); `kernels.shapes` holds the shape rules that all
backends share. A backend is a module; the registry maps names to module paths so that
`import kernels` stays cheap and Numba is imported only when its backend is asked for.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Ladder order: each rung is a different algorithm, not a tuning of the previous one.
_REGISTRY = {
    "naive": "kernels.naive",
    "strided": "kernels.strided",
    "im2col": "kernels.im2col",
    "numba": "kernels.numba_jit",
    "auto": "kernels.auto",  # not an algorithm: picks the fastest of the others per layer
}


def available() -> list[str]:
    """Registered backend names, in ladder order."""
    return list(_REGISTRY)


def get_backend(name: str) -> ModuleType:
    """The backend called `name`; an unknown name is a ValueError listing the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {type(name).__name__}")
    try:
        module_path = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(available())}") \
            from None
    return importlib.import_module(module_path)


__all__ = ["available", "get_backend"]
