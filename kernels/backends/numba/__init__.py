"""Numba backend: direct loops compiled to machine code, convolution (conv.py, with the
polyphase split of strided layers in phases.py) and pooling (pool.py). Each file derives
its own loops; this one only assembles the backend."""

from __future__ import annotations

from ...support import machine

# Numba's threading layer and vector width, set before the first kernel is decorated (Numba
# fixes its target then). Every backend that compiles with Numba imports this package first.
machine.configure_numba()

from .conv import conv2d_backward, conv2d_forward, unsupported  # noqa: E402
from .pool import (avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward,  # noqa: E402
                   max_pool2d_forward)

name = "numba"

__all__ = ["name", "unsupported", "conv2d_forward", "conv2d_backward", "max_pool2d_forward",
           "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]
