"""Numba's one-off costs, each in a fresh interpreter, apart from the steady-state timings:
compiling every kernel from scratch (empty cache) and loading them from the on-disk cache."""

import os
import subprocess
import sys
import tempfile

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


class NumbaCompile:
    param_names = ["dtype"]
    params = [["float32", "float64"]]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 600

    def setup(self, dtype):
        self.warm_dir = tempfile.mkdtemp(prefix="convbench-numba-")
        code = _SETUP.format(cache_dir_code=f"cache_dir = {self.warm_dir!r}", dtype=dtype)
        subprocess.run([sys.executable, "-c", code + _WORKLOAD], check=True)

    def teardown(self, dtype):
        import shutil
        shutil.rmtree(self.warm_dir, ignore_errors=True)

    def timeraw_compile_cold(self, dtype):
        # A fresh, empty cache directory per process (removed at exit): everything compiles.
        cold = ("import atexit, shutil, tempfile\n"
                "cache_dir = tempfile.mkdtemp(prefix='convbench-cold-')\n"
                "atexit.register(shutil.rmtree, cache_dir, True)")
        return _WORKLOAD, _SETUP.format(cache_dir_code=cold, dtype=dtype)

    def timeraw_load_cached(self, dtype):
        return _WORKLOAD, _SETUP.format(cache_dir_code=f"cache_dir = {self.warm_dir!r}",
                                        dtype=dtype)
