"""The parameter grid shared by the asv suites.

asv runs today's suites against old commits, so they import only what every benchmarked
commit has: `kernels.available/get_backend`, `kernels.cases` and `kernels.bench.measure /
workspace_bytes`. Newer helpers are looked up with getattr and a fallback.

The reduced grid (default) times the layers of the default `convnet` with the fast backends,
so `asv run` over many commits stays quick. CONVBENCH_FULL=1 selects the full grid
(`kernels.cases.full_grid`): every case, every backend (the reference where practical),
every architecture.
"""

import kernels
import kernels.cases as cases
from kernels.cases import ARCHITECTURES, CONV_CASES, POOL_CASES, QUICK_CASES, practical

FULL = getattr(cases, "full_grid", lambda: False)()  # older commits: the reduced grid


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

# Backends for whole-model benchmarks: the reference takes minutes per training step.
MODEL_BACKENDS = [b for b in BACKENDS if is_fast(b)]


def skip_unless_practical(case, backend):
    """asv records a benchmark whose setup raises NotImplementedError as skipped."""
    if backend not in kernels.available():
        raise NotImplementedError(f"{backend} does not exist at this commit")
    if not practical(case, backend):
        raise NotImplementedError(f"{backend} is impractically slow on {case.name}")
