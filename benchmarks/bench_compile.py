"""Numba's one-off costs, each in a fresh interpreter, apart from the steady-state timings:
compiling the kernels convnet uses (stride-1 conv forward and backward, 2x2 max and average
pooling) from scratch, and loading them from the on-disk cache instead."""

import os
import subprocess
import sys

from .common import grid

_WORKLOAD = """
y, c = b.conv2d_forward(x, w, bias, padding=1)
b.conv2d_backward(y, c)
for op in ("max", "avg"):
    p, pc = getattr(b, op + "_pool2d_forward")(x, 2)
    getattr(b, op + "_pool2d_backward")(p, pc)
"""

_SETUP = """
import os
{cache_dir_code}
os.environ["NUMBA_CACHE_DIR"] = cache_dir
import numpy as np
import kernels
b = kernels.get_backend("numba")
x = np.ones((2, 3, 8, 8), np.{dtype})
w = np.ones((4, 3, 3, 3), np.{dtype})
bias = np.ones(4, np.{dtype})
"""


class _OneOff:
    """The default grid: float32 (what the CNN trains in), one round; each sample is a fresh
    interpreter, a cold one ~30 s on 2 cores."""

    param_names = ["dtype"]
    params = [grid(["float32", "float64"], ["float32"])]
    number = 1  # a second call in the same process would be warm
    rounds = grid(2, 1)
    timeout = 600


class NumbaCompileCold(_OneOff):
    """Everything compiles: a fresh, empty cache directory per process (removed at exit)."""

    repeat = grid((1, 3, 120.0), 1)

    def timeraw_compile(self, dtype):
        cold = ("import atexit, shutil, tempfile\n"
                "cache_dir = tempfile.mkdtemp(prefix='convbench-cold-')\n"
                "atexit.register(shutil.rmtree, cache_dir, True)")
        return _WORKLOAD, _SETUP.format(cache_dir_code=cold, dtype=dtype)


class NumbaCacheLoad(_OneOff):
    """Machine code loaded from a cache directory that setup_cache filled once."""

    repeat = grid((1, 3, 60.0), (1, 3, 5.0))

    def setup_cache(self):
        # asv runs this once, in a scratch directory it removes afterwards.
        warm_dir = os.path.abspath("numba-cache")
        for dtype in self.params[0]:
            code = _SETUP.format(cache_dir_code=f"cache_dir = {warm_dir!r}", dtype=dtype)
            subprocess.run([sys.executable, "-c", code + _WORKLOAD], check=True)
        return warm_dir

    def timeraw_load(self, warm_dir, dtype):
        return _WORKLOAD, _SETUP.format(cache_dir_code=f"cache_dir = {warm_dir!r}", dtype=dtype)
