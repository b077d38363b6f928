"""Convolution layers: forward, backward-data, backward-weights and the full backward,
seconds per GFLOP and workspace."""

import inspect

import numpy as np

import kernels
from kernels.bench import measure, workspace_bytes
from .common import (BACKENDS, CONV, CONV_NAMES, MAIN, Sampling, capabilities, case_named,
                     computes_backward, is_fast, skip_unless_practical)


class _Conv(Sampling):
    param_names = ["backend", "case"]
    params = [BACKENDS, CONV_NAMES]
    timeout = 600

    def setup(self, backend, case):
        self.case = case_named(CONV, case)
        skip_unless_practical(self.case, backend)
        self.backend = kernels.get_backend(backend)
        if capabilities(self.backend).unsupported(self.case.geometry()) is not None:
            raise NotImplementedError(f"{backend} does not compute {case}")
        self.x, self.w, self.b, self.dy = self.case.arrays(np.float32)
        self.kwargs = self.case.params()
        # Warm-up: Numba compiles (or loads its cache) here, never inside a timing.
        self.y, self.cache = self.backend.conv2d_forward(self.x, self.w, self.b, **self.kwargs)
        if computes_backward(self.backend):
            self.backend.conv2d_backward(self.dy, self.cache)


class _Backward(_Conv):
    """Skipped for a backend that computes the forward pass only (e.g. onnxruntime)."""

    def setup(self, backend, case):
        super().setup(backend, case)
        if not computes_backward(self.backend):
            raise NotImplementedError(f"{backend} computes the forward pass only")


class _SplitBackward(_Backward):
    """The passes apart: commits before the split backward have no flags; skipped there.
    The default grid times MAIN's backends: the full backward of the others is timed."""

    params = [MAIN, CONV_NAMES]

    def setup(self, backend, case):
        super().setup(backend, case)
        if "compute_dx" not in inspect.signature(self.backend.conv2d_backward).parameters:
            raise NotImplementedError("no separate backward passes at this commit")


class ConvForward(_Conv):
    def time_forward(self, backend, case):
        self.backend.conv2d_forward(self.x, self.w, self.b, **self.kwargs)


class ConvBackward(_Backward):
    def time_backward(self, backend, case):
        self.backend.conv2d_backward(self.dy, self.cache)


class ConvBackwardData(_SplitBackward):
    def time_backward_data(self, backend, case):
        self.backend.conv2d_backward(self.dy, self.cache, compute_dw=False)


class ConvBackwardWeights(_SplitBackward):
    def time_backward_weights(self, backend, case):
        self.backend.conv2d_backward(self.dy, self.cache, compute_dx=False)


class ConvMetrics(_Backward):
    """Derived numbers: asv stores and plots them like timings. asv reads every tracked
    value as lower-is-better (`asv compare`, `asv publish`'s regressions), so the rate is
    tracked as its inverse: seconds per GFLOP of forward+backward (GF/s = 1 / that).
    The default grid tracks MAIN's backends."""

    params = [MAIN, CONV_NAMES]
    repeat = 1
    number = 1

    def track_seconds_per_gflop(self, backend, case):
        def step():
            y, cache = self.backend.conv2d_forward(self.x, self.w, self.b, **self.kwargs)
            self.backend.conv2d_backward(self.dy, cache)
        seconds = measure(step, repeats=7 if is_fast(backend) else 1)["median"]
        return seconds / ((self.case.flops_forward + self.case.flops_backward) / 1e9)

    track_seconds_per_gflop.unit = "seconds"

    def track_workspace_bytes(self, backend, case):
        def both():
            y, cache = self.backend.conv2d_forward(self.x, self.w, self.b, **self.kwargs)
            return (y, *self.backend.conv2d_backward(self.dy, cache))
        return workspace_bytes(both)

    track_workspace_bytes.unit = "bytes"
