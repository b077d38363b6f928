"""The parameter grid shared by the asv suites.

The reduced grid (default) times the layers of the default `convnet` with the fast backends,
so `asv run` over many commits stays quick. CONVBENCH_FULL=1 selects the full grid: every
case of kernels.cases, every backend (naive where practical), every architecture.
"""

import os

import kernels
from kernels.cases import ARCHITECTURES, CONV_CASES, POOL_CASES, QUICK_CASES, practical

FULL = os.environ.get("CONVBENCH_FULL", "") not in ("", "0")

if FULL:
    BACKENDS = kernels.available()
    CONV_NAMES = list(CONV_CASES)
    POOL_NAMES = list(POOL_CASES)
    ARCHS = list(ARCHITECTURES)
else:
    BACKENDS = [b for b in kernels.available() if b != "naive"]
    CONV_NAMES = [n for n in QUICK_CASES if n in CONV_CASES]
    POOL_NAMES = [n for n in QUICK_CASES if n in POOL_CASES]
    ARCHS = ["convnet"]

# Backends for whole-model benchmarks: naive takes minutes per training step.
MODEL_BACKENDS = [b for b in BACKENDS if b != "naive"]


def skip_unless_practical(case, backend):
    """asv records a benchmark whose setup raises NotImplementedError as skipped."""
    if not practical(case, backend):
        raise NotImplementedError(f"{backend} is impractically slow on {case.name}")
