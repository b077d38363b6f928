"""Numba backend: direct loops compiled to machine code, convolution (conv.py, with the
polyphase split of strided layers in phases.py) and pooling (pool.py). Each file derives
its own loops; this one only assembles the backend."""

from __future__ import annotations

import os

# OpenMP's worker threads spin after each parallel loop and fight OpenBLAS's threads for the
# cores; Numba's own workqueue layer sleeps instead (measured: ~25 % faster training steps on
# 2 cores when the two alternate). It must be set before numba is first imported, which the
# submodules below do; a user's own setting wins.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

from .conv import conv2d_backward, conv2d_forward, unsupported  # noqa: E402
from .pool import (avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward,  # noqa: E402
                   max_pool2d_forward)

name = "numba"

__all__ = ["name", "unsupported", "conv2d_forward", "conv2d_backward", "max_pool2d_forward",
           "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]
