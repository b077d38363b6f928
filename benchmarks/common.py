"""The parameter grid shared by the asv suites.

asv runs today's suites against old commits, so they import only what every benchmarked
commit has: `kernels.available/get_backend`, `kernels.cases` and `kernels.bench.measure /
workspace_bytes`. Newer helpers are looked up with getattr and a fallback.

The default grid is for history: one commit in at most ~6 minutes on two quiet cores (the
measured time is in docs/asv-and-pytest-benchmark.md). It times the layers of the default
`convnet` forward and backward with every fast backend and library, the split backward
passes, the derived metrics and the 10,000-image evaluation with MAIN's backend only (once),
the training step with every fast backend, and Numba's compilation for float32; each
benchmark takes one round of a few samples (Sampling). CONVBENCH_FULL=1 selects the full grid
(`kernels.cases.full_grid`): every case, every backend (the reference where practical),
every architecture on every suite, with asv's own sampling (two rounds, up to 10 s of
samples each).

Libraries (frameworks and plug-ins, role LIBRARY) are parameters too: every framework the
registry knows, installed or not, so that a machine without one records it as skipped
(setup raises NotImplementedError, asv's way to skip), not as a failure. A user's own cases
come from the file CONVBENCH_CASES_FILE names (kernels.cases.custom), timed with the grid.
"""

import types

import kernels
import kernels.cases as cases
from kernels.cases import ARCHITECTURES, CONV_CASES, POOL_CASES, QUICK_CASES, practical

FULL = getattr(cases, "full_grid", lambda: False)()  # older commits: the reduced grid


def _user_cases():
    """The cases of CONVBENCH_CASES_FILE; none at commits without kernels.cases.custom."""
    try:
        from kernels.cases import custom
    except ImportError:
        return []
    return custom.from_environment()


def _libraries():
    """Every framework the registry knows and every usable library (older commits: none)."""
    library = getattr(kernels, "LIBRARY", None)
    if library is None:
        return []
    plugins = getattr(kernels, "plugins", None)
    known = list(getattr(plugins, "FRAMEWORKS", {}))
    return list(dict.fromkeys(known + kernels.available(library)))


USER_CASES = _user_cases()
LIBRARIES = _libraries()
CONV = {**CONV_CASES, **{c.name: c for c in USER_CASES if c.kind == "conv"}}
POOL = {**POOL_CASES, **{c.name: c for c in USER_CASES if c.kind == "pool"}}


def is_fast(name):
    """Not the reference (the naive backend; older commits have no roles)."""
    role = getattr(kernels, "role", None)
    return role(name) != kernels.REFERENCE if role else name != "naive"


if FULL:
    BACKENDS = kernels.available()
    CONV_NAMES = list(CONV_CASES)
    POOL_NAMES = list(POOL_CASES)
    ARCHS = list(ARCHITECTURES)
else:
    BACKENDS = [b for b in kernels.available() if is_fast(b)]
    CONV_NAMES = [n for n in QUICK_CASES if n in CONV_CASES]
    POOL_NAMES = [n for n in QUICK_CASES if n in POOL_CASES]
    ARCHS = ["convnet"]
BACKENDS += [b for b in LIBRARIES if b not in BACKENDS]
CONV_NAMES += [c.name for c in USER_CASES if c.kind == "conv"]
POOL_NAMES += [c.name for c in USER_CASES if c.kind == "pool"]

# The backend the default grid times in detail (the split passes, the metrics, the 10,000-image
# evaluation): the compiled direct kernels, our main algorithm. `auto` (cnn train's default)
# is not: its per-layer choice follows the load of the moment.
MAIN = BACKENDS if FULL else ["numba"]

# Backends for whole-model benchmarks: the reference takes minutes per training step; our
# CNN on a library's kernels is not timed here.
MODEL_BACKENDS = [b for b in BACKENDS if is_fast(b) and b not in LIBRARIES]


def grid(full, default):
    """A parameter list or setting: `full` with CONVBENCH_FULL=1, else `default`."""
    return full if FULL else default


class Sampling:
    """asv's sampling. Default grid: one round (one process per parameter combination) of
    1-5 samples, sampling stopped after 0.5 s, after 0.1 s of warm-up calls; a sample still
    lasts at least asv's sample_time (10 ms), so a fast layer gets its five samples. The
    25 % regression threshold (asv.conf.json) is coarser than such a median's spread on a
    quiet machine. Full grid: asv's defaults (two rounds of up to 5 samples and 10 s)."""

    if not FULL:
        rounds = 1
        repeat = (1, 5, 0.5)
        warmup_time = 0.1


def skip_unless_practical(case, backend):
    """asv records a benchmark whose setup raises NotImplementedError as skipped."""
    if backend not in kernels.available():
        raise NotImplementedError(f"{backend} is not available (its package is not installed, "
                                  "or it does not exist at this commit)")
    if not practical(case, backend):
        raise NotImplementedError(f"{backend} is impractically slow on {case.name}")


def computes_backward(backend) -> bool:
    """Whether the backend computes the backward passes (a forward-only library does not)."""
    passes = getattr(kernels, "passes", None)
    return passes is None or kernels.BACKWARD_DATA in passes(backend)


def capabilities(backend):
    """The backend's capabilities record (kernels.capabilities); at commits without one, the
    two fields the suites read, from its attributes with the record's defaults."""
    read = getattr(kernels, "capabilities", None)
    if read is not None:
        return read(backend)
    return types.SimpleNamespace(unsupported=getattr(backend, "unsupported", lambda geo: None),
                                 pooling_from=getattr(backend, "POOLING_FROM", None))


def case_named(cases, name):
    """A case of the grid, or skipped: a user's case at a commit that cannot read it."""
    if name not in cases:
        raise NotImplementedError(f"case {name} is not known at this commit")
    return cases[name]
