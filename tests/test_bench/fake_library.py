"""Stand-ins for another project's convolution, for the harness tests: the contract served by
our im2col under a library's name, one computing every pass (FULL) and one forward only
(FORWARD_ONLY, as onnxruntime). Reach them with
CONVBENCH_BACKENDS="fakelib=test_bench.fake_library:FULL" and tests/ on the path."""

from __future__ import annotations

import kernels


class FakeLibrary:
    def __init__(self, name, passes):
        self.name = name
        self.PASSES = passes

    @property
    def _inner(self):
        return kernels.get_backend("im2col")

    def unsupported(self, geometry):
        return self._inner.unsupported(geometry)

    def conv2d_forward(self, x, w, b=None, **params):
        return self._inner.conv2d_forward(x, w, b, **params)

    def conv2d_backward(self, dy, cache, *, compute_dx=True, compute_dw=True):
        if kernels.BACKWARD_DATA not in self.PASSES:
            raise AssertionError("a forward-only library's backward was called")
        return self._inner.conv2d_backward(dy, cache, compute_dx=compute_dx,
                                           compute_dw=compute_dw)

    def __getattr__(self, name):  # pooling: im2col's
        if name.endswith(("_pool2d_forward", "_pool2d_backward")):
            return getattr(self._inner, name)
        raise AttributeError(name)

    def versions(self):
        return {"fakelib": "1.2.3", "numpy": "as installed"}

    def threads(self):
        return 1


FULL = FakeLibrary("fakelib", kernels.ALL_PASSES)
FORWARD_ONLY = FakeLibrary("fakefwd", (kernels.FORWARD,))
