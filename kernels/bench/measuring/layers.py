"""Single layers: one backend on one named case of `kernels.cases` (PyTorch: the torch backend).

A convolution is timed as its three passes apart - forward, backward-data (dx) and
backward-weights (dw, db) - as DeepBench and oneDNN's benchdnn do; a pool as forward and
backward (its backward is a backward-data pass). `prepare` makes one contender's passes
ready, the report times every contender of a case together (taking turns in blocks, see
`instruments.measure_alternated`), `finish` turns the timings into the contender's result.
Workspace is measured in a separate, untimed forward + full backward. The reference backend
takes seconds per call, so it gets one sample, and with `quick` a few images whose time is
scaled to the batch (its cost is exactly linear in the batch).

Accuracy: the error of y, dx and dw against a float64 reference (im2col in float64, itself
tested against the naive definition), in units of eps(dtype) * sum|terms| - the rounding
bound the tests use for direct summation, so 1.0 means "as wrong as the worst case of a
plain sum allows", whatever the algorithm - componentwise (each element against its own
sum|terms|) and normwise (against the largest; see `_units`). A float64 run has no more
precise reference: its errors are not measured (null), not reported as 0.
"""

from __future__ import annotations

import time

import numpy as np

from ... import REFERENCE, Pass, get_backend, role
from ...conformance.bounds import error_units as units_of_rounding
from ...plugins import capabilities
from .instruments import measure, workspace_bytes
from .libraries import is_library, not_computed

# The passes' keys in a result (kernels.vocabulary): {FORWARD_KEY: {...}, ...}.
FORWARD_KEY, DATA_KEY, WEIGHTS_KEY = (p.key for p in Pass)
REFERENCE_PROBE_BATCH = 4  # --quick: the reference on this many images, scaled to the batch


def _conv_passes(backend, case, x, w, b, dy):
    params = case.params()
    _, cache = backend.conv2d_forward(x, w, b, **params)

    def both():
        y, c = backend.conv2d_forward(x, w, b, **params)
        return (y, *backend.conv2d_backward(dy, c))
    passes = {FORWARD_KEY: lambda: backend.conv2d_forward(x, w, b, **params),
              DATA_KEY: lambda: backend.conv2d_backward(dy, cache, compute_dw=False),
              WEIGHTS_KEY: lambda: backend.conv2d_backward(dy, cache, compute_dx=False)}
    return passes, both, cache


def _pool_passes(backend, case, x, dy):
    fwd = getattr(backend, f"{case.op}_pool2d_forward")
    bwd = getattr(backend, f"{case.op}_pool2d_backward")
    _, cache = fwd(x, case.k)

    def both():
        y, c = fwd(x, case.k)
        return y, bwd(dy, c)
    return {FORWARD_KEY: lambda: fwd(x, case.k), DATA_KEY: lambda: bwd(dy, cache)}, both, cache


def prepare(case, backend_name, dtype, quick):
    """One backend made ready on one case: its passes as calls to time, a forward + full
    backward for the workspace meter, and the first forward's cost."""
    backend = get_backend(backend_name)
    arrays = case.arrays(dtype)
    scale, note = 1.0, None
    if role(backend_name) == REFERENCE and quick:
        x, *middle, dy = arrays
        arrays = (x[:REFERENCE_PROBE_BATCH], *middle, dy[:REFERENCE_PROBE_BATCH])
        scale = case.N / REFERENCE_PROBE_BATCH
        note = f"extrapolated from batch {REFERENCE_PROBE_BATCH}"
    start = time.perf_counter()  # the first forward: for Numba, compilation or cache load
    passes, both, cache = (_conv_passes if case.kind == "conv" else _pool_passes)(
        backend, case, *arrays)
    missing = not_computed(backend_name, case.kind)  # e.g. a forward-only library
    if missing:
        passes = {k: f for k, f in passes.items() if k not in missing}
        both = passes[FORWARD_KEY]
    conversions = {}
    if case.kind == "conv" and capabilities(backend).conversions is not None:
        calls = backend.conversions(*arrays, **case.params())
        conversions = {f"{name}{CONVERSIONS}": calls[name] for name in passes if name in calls}
    return dict(backend=backend, passes=passes, both=both, cache=cache, scale=scale,
                note=note, first_call=time.perf_counter() - start, not_computed=missing,
                library=is_library(backend_name), conversions=conversions)


CONVERSIONS = " conversions"  # a pass's name + this: the layout conversions inside that pass


def timed_calls(prepared):
    """Everything to time for one contender: its passes, and for a backend that converts
    layouts (an optional `conversions(x, w, b, dy, **params)` giving each pass's conversions
    alone, as kernels.backends.blocked does) those conversions, timed in the same turns so
    their share of each pass is a ratio measured alike."""
    return {**prepared["passes"], **prepared.get("conversions", {})}


def conversion_shares(prepared, timings) -> dict | None:
    """{pass: median seconds of its layout conversions / median seconds of the pass}."""
    if not prepared.get("conversions"):
        return None
    return {name: timings[name + CONVERSIONS]["median"] / timings[name]["median"]
            for name in prepared["passes"] if name + CONVERSIONS in timings}


def finish(prepared, timings):
    """A backend's result on a case from its prepare() and the timings of its passes
    ({pass: measure()'s statistics}): times scaled to the batch, first-call cost (where Numba
    compiles), workspace, each pass's share spent converting layouts (a backend that says
    which calls those are), and for a dispatcher the backend it chose."""
    passes, scale = prepared["passes"], prepared["scale"]
    result = {name: {k: v * scale if isinstance(v, float) else
                     [s * scale for s in v] if k == "samples" else v
                     for k, v in timings[name].items()} for name in passes}
    result["first_call_seconds"] = prepared["first_call"] + sum(
        timings[p]["first_call"] for p in passes if p != FORWARD_KEY)
    # tracemalloc sees NumPy's allocations, not a framework's own allocator: no figure
    # rather than a wrong one for a library
    result["workspace_bytes"] = None if scale != 1.0 or prepared.get("library") else \
        workspace_bytes(prepared["both"])
    if prepared["note"]:
        result["note"] = prepared["note"]
    if prepared.get("not_computed"):
        result["not_computed"] = prepared["not_computed"]
    if (shares := conversion_shares(prepared, timings)) is not None:
        result["conversion_share"] = shares
    winner = capabilities(prepared["backend"]).winner  # a dispatcher says who computed
    if winner is not None:
        result["chose"] = winner(prepared["cache"])
    return result


def workspace_cap_case(case, backend_name, dtype, repeats):
    """A backend with a workspace cap (`MAX_WORKSPACE_BYTES`, `chunk_count(geo, itemsize)`),
    forward+backward under its cap against no cap at all: slowdown, peak, chunks."""
    backend = get_backend(backend_name)
    x, w, b, dy = case.arrays(dtype)
    cap = backend.MAX_WORKSPACE_BYTES

    def both():
        y, cache = backend.conv2d_forward(x, w, b, **case.params())
        return (y, *backend.conv2d_backward(dy, cache))
    geo = case.geometry(x, w, b)
    chunks = backend.chunk_count(geo, x.itemsize)
    peak = workspace_bytes(both)
    slowdown = None  # one chunk: the cap changes nothing, timing it would time noise
    if chunks > 1:
        capped = measure(both, repeats)["min"]  # min: a ratio of two medians is noisier
        try:
            backend.MAX_WORKSPACE_BYTES = 2**62
            slowdown = capped / measure(both, repeats)["min"]
        finally:
            backend.MAX_WORKSPACE_BYTES = cap
    # The padded input and its gradient are O(input) for every algorithm; the cap bounds
    # what the backend adds on top (e.g. im2col's columns, their gradient, GEMM outputs).
    copies = 2 if any(geo.pad) else 1  # unpadded, x itself is used: only dx is new
    padded = copies * geo.N * geo.C * geo.Hp * geo.Wp * x.itemsize
    return dict(case=case.name, backend=backend_name, cap_bytes=cap, slowdown=slowdown,
                peak_bytes=peak, padded_bytes=padded, chunks=chunks)


def reference(case, dtype):
    """The float64 reference of a conv case on the case's own (dtype-rounded) values, and
    sum|terms| of each result: (y, dx, dw), (y_scale, dx_scale, dw_scale)."""
    im2col = get_backend("im2col")
    arrays = [a.astype(dtype).astype(np.float64) for a in case.arrays(dtype)]
    x, w, b, dy = arrays

    def run(x, w, b, dy):
        y, cache = im2col.conv2d_forward(x, w, b, **case.params())
        dx, dw, _ = im2col.conv2d_backward(dy, cache)
        return y, dx, dw
    return run(x, w, b, dy), run(*(np.abs(a) for a in arrays))


def error_units(case, backend_name, dtype, ref):
    """The errors of y, dx and dw (see the module doc): {"error": componentwise,
    "error_normwise": normwise}."""
    backend = get_backend(backend_name)
    x, w, b, dy = case.arrays(dtype)
    y, cache = backend.conv2d_forward(x, w, b, **case.params())
    if not_computed(backend_name, "conv"):  # forward only: no gradients to compare
        return _units((y, None, None), ref, dtype)
    dx, dw, _ = backend.conv2d_backward(dy, cache)
    return _units((y, dx, dw), ref, dtype)


def _units(results, ref, dtype):
    """Componentwise: max over elements of |got - ref| / (eps * sum|terms|), inf where an
    element's terms are all 0 but it is not (an FFT spreads rounding into exact zeros).
    Normwise: max |got - ref| / (eps * max sum|terms|), the error against the tensor's
    largest scale, finite whenever the result is, the unit the FFT's bound speaks in."""
    eps = np.finfo(dtype).eps
    errors, normwise = {}, {}
    for name, got, want, scale in zip(("y", "dx", "dw"), results, *ref):
        if got is None:  # a pass the backend does not compute
            errors[name] = normwise[name] = None
            continue
        err = np.abs(got.astype(np.float64) - want)
        errors[name] = units_of_rounding(got, want, scale, dtype)  # as verify prints them
        largest = float(np.max(scale)) if scale.size else 0.0
        worst = float(np.max(err)) if err.size else 0.0
        normwise[name] = float(worst / (eps * largest)) if largest > 0 else \
            (0.0 if worst == 0 else float("inf"))
    return dict(error=errors, error_normwise=normwise)
