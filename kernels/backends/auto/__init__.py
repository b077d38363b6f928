"""Auto backend: time the other backends once per layer configuration, then dispatch.

No algorithm wins everywhere: im2col's GEMM wins on many channels, Numba's direct loops on
one input channel and on pooling, and the answer moves with the machine. The first call with
a new configuration - operation, shapes, parameters, dtype - runs every candidate backend
(the registered algorithms: not the naive reference, not itself, and not one whose own
workspace estimate breaks its cap - see `over_cap`) on the caller's own arrays: one untimed
warm-up (Numba compiles or loads its cache here), then `REPEATS` timed forward+backward
passes with an upstream gradient of ones, and keeps the backend with the smallest time.
Later calls go straight to the winner; the cache returned by forward remembers who computed
it, so backward always matches. A conv followed by ReLU (kernels.epilogues) goes to the same
winner, fused when the winner fuses.

Decisions last for the process. Set CONVBENCH_AUTO_CACHE to a file path (or to 1 for
~/.cache/convbench/auto.json) to keep them across processes (store.py: the file, keyed by
the machine, the versions and the candidates' source code).

Cost: one-off ~(candidates x (REPEATS + 1)) forward+backward passes per configuration.
"""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Any, NamedTuple

import numpy as np

from ... import ALGORITHM, available, capabilities, epilogues, get_backend
from ...shapes import conv2d_geometry, pool2d_geometry
from ...support import runtime
from . import store

name = "auto"
REPEATS = 3

_decisions: dict[str, str] = {}  # configuration key -> backend name
_timings: dict[str, dict] = {}  # configuration key -> seconds per candidate (measured here)


class Dispatched(NamedTuple):
    """What auto's forward passes return as their cache: who computed it, and its cache."""
    backend: str
    cache: Any


def candidates() -> list[str]:
    """The registered algorithms (the reference is far too slow to ever win); for a layer,
    those that compute it (conv) or have pooling of their own (pool)."""
    return available(ALGORITHM)


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """A hash of the candidates' source files: a decision about old code is not reused."""
    digest = hashlib.sha256()
    for candidate in candidates():
        for path in runtime.source_files(get_backend(candidate)):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _environment_key() -> str:
    return store.environment_key(_code_digest())


def _remember(key, winner, timings):
    _decisions[key], _timings[key] = winner, timings
    store.save(_environment_key, key, winner)


def _decide(key, run, eligible):
    """The winner for `key` among the candidates eligible() names: remembered, or measured
    now by run(backend) (one fwd+bwd). eligible() runs only when there is no decision yet."""
    if key in _decisions:
        return _decisions[key]
    names = eligible()
    known = store.load(_environment_key).get(key)
    if known in names:
        _decisions[key] = known
        return known
    timings = {}
    for candidate in names:
        backend = get_backend(candidate)
        run(backend)  # warm-up: JIT compilation, first-touch of buffers
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            run(backend)
            best = min(best, time.perf_counter() - start)
        timings[candidate] = best
    winner = min(timings, key=timings.get)
    _remember(key, winner, timings)
    return winner


def decisions() -> dict[str, dict]:
    """Every configuration decided in this process: the backend chosen and, when it was
    measured in this process (not read from the persistent cache), each candidate's
    forward+backward seconds."""
    return {key: {"backend": chosen, "seconds": _timings.get(key)}
            for key, chosen in _decisions.items()}


def adopt(choices: dict[str, str]) -> None:
    """Take earlier decisions ({configuration key: backend}) as this process's own, e.g. from
    a checkpoint, so a resumed training run computes every layer as before the stop."""
    for key, chosen in choices.items():
        if chosen in candidates():
            _decisions[key] = chosen


def _computing(geo) -> list[str]:
    """The candidates that compute this conv geometry."""
    return [c for c in candidates() if _capabilities(c).unsupported(geo) is None]


def _capabilities(candidate):
    return capabilities(get_backend(candidate))


def over_cap(name, geo) -> bool:
    """Whether the candidate's own estimate of one call's workspace exceeds its cap
    (Capabilities.over_cap): trying it on the caller's arrays would take that memory, and
    keeping it would take it every step."""
    return _capabilities(name).over_cap(geo)


def _tried(geo) -> list[str]:
    """The candidates auto measures on this geometry: those that compute it within their
    workspace cap, or, if none does, every one that computes it."""
    computing = _computing(geo)
    return [c for c in computing if not over_cap(c, geo)] or computing


def _pooling() -> list[str]:
    """The candidates with pooling of their own (not borrowed from another backend)."""
    return [c for c in candidates() if not _capabilities(c).borrows_pooling]


def unsupported(geometry) -> str | None:
    """None when some candidate computes the configuration (the classic ones compute all)."""
    if _computing(geometry):
        return None
    return "no candidate computes it: " + "; ".join(
        _capabilities(c).unsupported(geometry) for c in candidates())


def winner(cache) -> str:
    """The backend that computed a forward pass, from the cache it returned."""
    return cache.backend


def _conv_key(geo, layout):
    return (f"conv|x{geo.x_shape}|w{geo.w_shape}|bias={geo.has_bias}|s{geo.stride}|p{geo.pad}"
            f"|d{geo.dilation}|g{geo.groups}|{geo.dtype}|{layout}")


def _layout(*arrays):
    return "C" if all(a.flags.c_contiguous for a in arrays if a is not None) else "strided"


def _choose(x, w, b, params) -> str:
    """The fastest candidate for this conv configuration (measured on first sight)."""
    geo = conv2d_geometry(x, w, b, **params)
    dy = None

    def run(backend):
        nonlocal dy
        y, cache = backend.conv2d_forward(x, w, b, **params)
        dy = np.ones_like(y) if dy is None else dy
        backend.conv2d_backward(dy, cache)

    def eligible():
        if not (names := _tried(geo)):
            raise ValueError(unsupported(geo))
        return names

    return _decide(_conv_key(geo, _layout(x, w, b)), run, eligible)


def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """The forward pass of the fastest candidate for this configuration (measured once)."""
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    chosen = _choose(x, w, b, params)
    y, cache = get_backend(chosen).conv2d_forward(x, w, b, **params)
    return y, Dispatched(chosen, cache)


def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """The backward pass of the backend that ran the forward pass."""
    return get_backend(cache.backend).conv2d_backward(dy, cache.cache, compute_dx=compute_dx,
                                                      compute_dw=compute_dw)


def conv2d_relu_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """max(conv, 0) by conv2d_forward's winner: fused when it fuses (kernels.epilogues)."""
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    chosen = _choose(x, w, b, params)
    y, cache = epilogues.conv2d_relu_forward(get_backend(chosen), x, w, b, **params)
    return y, Dispatched(chosen, cache)


def conv2d_relu_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    return epilogues.conv2d_relu_backward(get_backend(cache.backend), dy, cache.cache,
                                          compute_dx=compute_dx, compute_dw=compute_dw)


def _pool_forward(op, x, kernel_size, stride, padding):
    geo = pool2d_geometry(x, kernel_size, stride=stride, padding=padding)
    forward, backward = f"{op}_pool2d_forward", f"{op}_pool2d_backward"

    def run(backend):
        y, cache = getattr(backend, forward)(x, kernel_size, stride=stride, padding=padding)
        getattr(backend, backward)(np.ones_like(y), cache)

    key = (f"{op}pool|x{geo.x_shape}|k{(geo.kh, geo.kw)}|s{geo.stride}|p{geo.pad}|{geo.dtype}"
           f"|{_layout(x)}")
    chosen = _decide(key, run, _pooling)
    y, cache = getattr(get_backend(chosen), forward)(x, kernel_size, stride=stride,
                                                     padding=padding)
    return y, Dispatched(chosen, cache)


def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """The fastest candidate's max pool for this configuration."""
    return _pool_forward("max", x, kernel_size, stride, padding)


def max_pool2d_backward(dy, cache):
    return get_backend(cache.backend).max_pool2d_backward(dy, cache.cache)


def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """The fastest candidate's average pool for this configuration."""
    return _pool_forward("avg", x, kernel_size, stride, padding)


def avg_pool2d_backward(dy, cache):
    return get_backend(cache.backend).avg_pool2d_backward(dy, cache.cache)
