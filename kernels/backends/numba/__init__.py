"""Numba backend: direct loops compiled by Numba, convolution (conv.py, with the polyphase
split of strided layers in phases.py) and pooling (the shared kernels.backends.pooling).
Each file derives its own loops; this one only assembles the backend."""

from __future__ import annotations

from ..pooling import (avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward,
                       max_pool2d_forward)
from .conv import conv2d_backward, conv2d_forward, unsupported

name = "numba"

__all__ = ["name", "unsupported", "conv2d_forward", "conv2d_backward", "max_pool2d_forward",
           "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]
