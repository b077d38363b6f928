"""Pooling layers: forward and backward."""

import numpy as np

import kernels
from .common import (BACKENDS, POOL, POOL_NAMES, Sampling, capabilities, case_named,
                     computes_backward, skip_unless_practical)


class _Pool(Sampling):
    param_names = ["backend", "case"]
    params = [BACKENDS, POOL_NAMES]
    timeout = 300

    def setup(self, backend, case):
        self.case = case_named(POOL, case)
        skip_unless_practical(self.case, backend)
        b = kernels.get_backend(backend)
        borrowed = capabilities(b).pooling_from
        if borrowed:  # fft and winograd pool with numba's kernels: timing them again under
            # their own names would only repeat numba's figures
            raise NotImplementedError(f"{backend} pools with {borrowed}'s kernels")
        if not computes_backward(b):  # forward only: its pooling is not what it is here for
            raise NotImplementedError(f"{backend} computes the forward pass only")
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
