"""The named layer shapes that asv, pytest-benchmark and `python -m kernels bench` all time,
grouped in sets selectable by name (`--cases mnist`, `--cases resnet50`, ...).

    mnist     the conv and pool layers of the three CNN architectures, at batch 64
    std       standard corners: a 1x1 conv, a strided, a grouped, a depthwise conv and a
              64-channel 3x3 conv
    others    layers of real networks and benchmark suites (kernels/cases/networks.py),
              each with its source

FLOPs count a multiply-add as two: forward 2*N*F*(C/groups)*kh*kw*Ho*Wo, and backward-data
and backward-weights cost the same each, so a full backward is twice the forward.
`naive_ok` marks the cases where the naive backend finishes in seconds, so a full report
stays in minutes; the naive rung is skipped elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from .. import REFERENCE, role
from ..shapes import conv2d_geometry, pair, pool2d_geometry

BATCH = 64


@dataclass(frozen=True)
class ConvCase:
    name: str
    C: int
    F: int
    H: int
    k: int | tuple = 3       # kernel size, or (kh, kw)
    stride: int | tuple = 1
    padding: int | tuple | str = 0
    groups: int = 1
    N: int = BATCH
    W: int | None = None     # input width; None: square (W = H)
    dilation: int | tuple = 1
    naive_ok: bool = True
    mnist: bool = False  # a layer of one of the CNN architectures
    source: str = ""     # where the shape comes from
    kind = "conv"

    @property
    def set(self) -> str:
        return "mnist" if self.mnist else self.name.split(".")[0]

    def _shapes(self):
        kh, kw = pair(self.k, "kernel size", minimum=1)
        x = (self.N, self.C, self.H, self.W or self.H)
        return x, (self.F, self.C // self.groups, kh, kw)

    def arrays(self, dtype=np.float32, seed=0):
        """(x, w, b, dy) with unit-variance entries; dy matches the output shape."""
        rng = np.random.default_rng(seed)
        x_shape, w_shape = self._shapes()
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        b = rng.standard_normal(self.F).astype(dtype)
        dy = rng.standard_normal(self.geometry(x, w, b).y_shape).astype(dtype)
        return x, w, b, dy

    def params(self):
        return dict(stride=self.stride, padding=self.padding, groups=self.groups,
                    dilation=self.dilation)

    def geometry(self, x=None, w=None, b=None):
        if x is None:
            x_shape, w_shape = self._shapes()
            x, w = np.empty(x_shape, np.float32), np.empty(w_shape, np.float32)
        return conv2d_geometry(x, w, b, **self.params())

    def with_batch(self, N: int) -> ConvCase:
        return dataclasses.replace(self, N=N)

    @property
    def flops_forward(self) -> int:
        return self.geometry().flops

    @property
    def flops_backward(self) -> int:
        return 2 * self.geometry().flops

    def describe(self) -> str:
        kh, kw = pair(self.k, "kernel size", minimum=1)
        size = f"{self.H}x{self.W or self.H}"
        extra = "".join([f" s{self.stride}" if self.stride != 1 else "",
                         f" p{self.padding}" if self.padding else "",
                         f" d{self.dilation}" if self.dilation != 1 else "",
                         f" g{self.groups}" if self.groups != 1 else ""])
        return f"{self.N}x{self.C}x{size} -> {self.F}@{kh}x{kw}{extra}"


@dataclass(frozen=True)
class PoolCase:
    name: str
    op: str  # 'max' or 'avg'
    C: int
    H: int
    k: int = 2
    N: int = BATCH
    naive_ok: bool = True
    mnist: bool = True
    source: str = ""
    kind = "pool"

    @property
    def set(self) -> str:
        return "mnist" if self.mnist else self.name.split(".")[0]

    def arrays(self, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((self.N, self.C, self.H, self.H)).astype(dtype)
        dy = rng.standard_normal(pool2d_geometry(x, self.k).y_shape).astype(dtype)
        return x, dy

    def with_batch(self, N: int) -> PoolCase:
        return dataclasses.replace(self, N=N)

    def describe(self) -> str:
        return f"{self.op} {self.k}x{self.k} on {self.N}x{self.C}x{self.H}x{self.H}"


MNIST_SOURCE = "cnn/model.py: the layer as the architecture builds it, at the training batch"
STD_SOURCE = "convbench's own corner cases"

CONV_CASES = {c.name: c for c in [
    ConvCase("convnet.conv1", C=1, F=32, H=28, k=3, padding=1, mnist=True, source=MNIST_SOURCE),
    ConvCase("convnet.conv2", C=32, F=64, H=14, k=3, padding=1, mnist=True,
             source=MNIST_SOURCE),
    ConvCase("lenet5.c1", C=1, F=6, H=28, k=5, padding=2, mnist=True, source=MNIST_SOURCE),
    ConvCase("lenet5.c3", C=6, F=16, H=14, k=5, mnist=True, source=MNIST_SOURCE),
    ConvCase("tiny.conv", C=1, F=8, H=28, k=3, mnist=True, source=MNIST_SOURCE),
    ConvCase("std.1x1", C=64, F=64, H=14, k=1, naive_ok=False, source=STD_SOURCE),
    ConvCase("std.strided", C=32, F=64, H=28, k=3, stride=2, padding=1, naive_ok=False,
             source=STD_SOURCE),
    ConvCase("std.grouped", C=64, F=64, H=14, k=3, padding=1, groups=4, naive_ok=False,
             source=STD_SOURCE),
    ConvCase("std.depthwise", C=64, F=64, H=14, k=3, padding=1, groups=64, naive_ok=False,
             source=STD_SOURCE),
    ConvCase("std.3x3x64", C=64, F=64, H=28, k=3, padding=1, naive_ok=False, source=STD_SOURCE),
]}

# The layers of real networks and benchmark suites, with their sources (see networks.py).
from .networks import NETWORK_CASES  # noqa: E402  (needs ConvCase, defined above)

CONV_CASES.update((c.name, c) for c in NETWORK_CASES)

POOL_CASES = {c.name: c for c in [
    PoolCase("convnet.pool1", "max", C=32, H=28, source=MNIST_SOURCE),
    PoolCase("convnet.pool2", "max", C=64, H=14, source=MNIST_SOURCE),
    PoolCase("lenet5.s2", "avg", C=6, H=28, source=MNIST_SOURCE),
    PoolCase("lenet5.s4", "avg", C=16, H=10, source=MNIST_SOURCE),
    PoolCase("tiny.pool", "max", C=8, H=26, source=MNIST_SOURCE),
]}

ARCHITECTURES = ("convnet", "lenet5", "tiny")

# The smaller grid for quick runs (asv's default, `bench --quick`): the layers the default
# `convnet` trains with.
QUICK_CASES = ("convnet.conv1", "convnet.conv2", "convnet.pool1", "convnet.pool2")


def full_grid() -> bool:
    """CONVBENCH_FULL=1 asks the asv and pytest-benchmark suites for every case, every backend
    (the reference where practical) and every architecture, instead of the quick grid."""
    return os.environ.get("CONVBENCH_FULL", "") not in ("", "0")


def all_cases():
    return {**CONV_CASES, **POOL_CASES}


def sets() -> dict[str, list[str]]:
    """Case names by set, in the order of all_cases()."""
    grouped: dict[str, list[str]] = {}
    for name, case in all_cases().items():
        grouped.setdefault(case.set, []).append(name)
    return grouped


def practical(case, backend: str) -> bool:
    """Whether timing `backend` on `case` finishes in reasonable time (the reference backend
    takes seconds per call, minutes on the bigger cases)."""
    return role(backend) != REFERENCE or case.naive_ok
