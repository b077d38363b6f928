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
~/.cache/convbench/auto.json) to keep them across processes; entries are keyed by the CPU
model and count, the thread count, the Python/NumPy/Numba versions and a hash of the
candidate backends' source code, so a decision measured elsewhere, or about other code, is
never reused.

Cost: one-off ~(candidates x (REPEATS + 1)) forward+backward passes per configuration.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from .. import ALGORITHM, available, epilogues, get_backend
from ..shapes import conv2d_geometry, pool2d_geometry
from ..support import runtime
from ..support.files import atomic_write

name = "auto"
REPEATS = 3
#: The workspace cap of a candidate that declares no MAX_WORKSPACE_BYTES of its own (auto
#: itself declares none: that attribute means "chunks its batch under a cap", see kernels).
DEFAULT_WORKSPACE_CAP = 64 * 2**20

_decisions: dict[str, str] = {}  # configuration key -> backend name
_timings: dict[str, dict] = {}  # configuration key -> seconds per candidate (measured here)
_persistent: dict | None = None  # file contents when CONVBENCH_AUTO_CACHE is set


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
    # Always through the numba backend (it picks Numba's threading layer before the import),
    # never sys.modules.get: the key must not depend on whether numba is loaded yet.
    from . import numba as _  # noqa: F401
    import numba

    return "|".join([runtime.cpu_model(), f"cpus={os.cpu_count()}",
                     f"threads={numba.get_num_threads()}", platform.python_version(),
                     f"numpy={np.__version__}", f"numba={numba.__version__}",
                     f"code={_code_digest()}"])


def _cache_path():
    setting = os.environ.get("CONVBENCH_AUTO_CACHE", "")
    if setting in ("", "0"):
        return None
    if setting == "1":
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "convbench" / "auto.json"
    return Path(setting)


def _read(path) -> dict:
    """The cache file's contents; a missing, corrupt or oddly shaped file reads as empty
    (it only costs a re-measurement)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _load_persistent():
    """This environment's decisions from the cache file ({} when there is no cache)."""
    global _persistent
    path = _cache_path()
    if path is None:
        return {}
    if _persistent is None:
        _persistent = _read(path)
    entry = _persistent.get(_environment_key())
    return entry if isinstance(entry, dict) else {}


def _remember(key, winner, timings):
    global _persistent
    _decisions[key], _timings[key] = winner, timings
    path = _cache_path()
    if path is None:
        return
    # Read again just before writing: another process may have added decisions meanwhile.
    _persistent = _read(path)
    env = _environment_key()
    if not isinstance(_persistent.get(env), dict):
        _persistent[env] = {}
    _persistent[env][key] = winner
    text = json.dumps(_persistent, indent=1, sort_keys=True, allow_nan=False)  # strict JSON
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(text.encode()))
    except OSError as e:  # an unwritable cache must not break training: decide again next time
        warnings.warn(f"auto: cannot write the decision cache {path}: {e}", RuntimeWarning,
                      stacklevel=4)


def _decide(key, run, eligible):
    """The winner for `key` among the candidates eligible() names: remembered, or measured
    now by run(backend) (one fwd+bwd). eligible() runs only when there is no decision yet."""
    if key in _decisions:
        return _decisions[key]
    names = eligible()
    known = _load_persistent().get(key)
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
    return [c for c in candidates() if get_backend(c).unsupported(geo) is None]


def over_cap(name, geo) -> bool:
    """Whether the candidate's own estimate of one call's workspace (`workspace_estimate`,
    where it has one) exceeds its cap (MAX_WORKSPACE_BYTES, else 64 MiB): trying it on the
    caller's arrays would take that memory, and keeping it would take it every step."""
    backend = get_backend(name)
    estimate = getattr(backend, "workspace_estimate", None)
    return estimate is not None and \
        estimate(geo) > getattr(backend, "MAX_WORKSPACE_BYTES", DEFAULT_WORKSPACE_CAP)


def _tried(geo) -> list[str]:
    """The candidates auto measures on this geometry: those that compute it within their
    workspace cap, or, if none does, every one that computes it."""
    computing = _computing(geo)
    return [c for c in computing if not over_cap(c, geo)] or computing


def _pooling() -> list[str]:
    """The candidates with pooling of their own (not borrowed from another backend)."""
    return [c for c in candidates() if not hasattr(get_backend(c), "POOLING_FROM")]


def unsupported(geometry) -> str | None:
    """None when some candidate computes the configuration (the classic ones compute all)."""
    if _computing(geometry):
        return None
    return "no candidate computes it: " + "; ".join(
        get_backend(c).unsupported(geometry) for c in candidates())


def winner(cache) -> str:
    """The backend that computed a forward pass, from the cache it returned."""
    return cache[0]


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
    return y, (chosen, cache)


def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """The backward pass of the backend that ran the forward pass."""
    return get_backend(cache[0]).conv2d_backward(dy, cache[1], compute_dx=compute_dx,
                                                 compute_dw=compute_dw)


def conv2d_relu_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """max(conv, 0) by conv2d_forward's winner: fused when it fuses (kernels.epilogues)."""
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    chosen = _choose(x, w, b, params)
    y, cache = epilogues.conv2d_relu_forward(get_backend(chosen), x, w, b, **params)
    return y, (chosen, cache)


def conv2d_relu_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    return epilogues.conv2d_relu_backward(get_backend(cache[0]), dy, cache[1],
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
    return y, (chosen, cache)


def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """The fastest candidate's max pool for this configuration."""
    return _pool_forward("max", x, kernel_size, stride, padding)


def max_pool2d_backward(dy, cache):
    return get_backend(cache[0]).max_pool2d_backward(dy, cache[1])


def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """The fastest candidate's average pool for this configuration."""
    return _pool_forward("avg", x, kernel_size, stride, padding)


def avg_pool2d_backward(dy, cache):
    return get_backend(cache[0]).avg_pool2d_backward(dy, cache[1])
