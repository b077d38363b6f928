"""Pooling layers: forward and backward."""

import numpy as np

import kernels
from kernels.cases import POOL_CASES

from .common import BACKENDS, POOL_NAMES, skip_unless_practical


class _Pool:
    param_names = ["backend", "case"]
    params = [BACKENDS, POOL_NAMES]
    timeout = 300

    def setup(self, backend, case):
        self.case = POOL_CASES[case]
        skip_unless_practical(self.case, backend)
        b = kernels.get_backend(backend)
        self.forward = getattr(b, f"{self.case.op}_pool2d_forward")
        self.backward = getattr(b, f"{self.case.op}_pool2d_backward")
        self.x, self.dy = self.case.arrays(np.float32)
        _, self.cache = self.forward(self.x, self.case.k)  # also the JIT warm-up
        self.backward(self.dy, self.cache)


class PoolForward(_Pool):
    def time_forward(self, backend, case):
        self.forward(self.x, self.case.k)


class PoolBackward(_Pool):
    def time_backward(self, backend, case):
        self.backward(self.dy, self.cache)
