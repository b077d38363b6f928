"""The PyTorch twin of an architecture: the same layers in torch.nn, the speed anchor of the
benchmark report. torch is imported only here, and only when a twin is asked for."""

from __future__ import annotations

import numpy as np

import kernels

from . import layers as L
from .model import build_model


def torch_model(arch, dtype=np.float32):
    """torch.nn.Sequential with the layers of `arch`, translated one by one (its own random
    initialisation: the twin is for timing, not for reproducing our numbers)."""
    import torch
    from torch import nn

    # Any backend will do: the model is only read, never run.
    ours = build_model(arch, backend=kernels.get_backend("naive"), dtype=dtype)
    modules = []
    for layer in ours.layers:
        if isinstance(layer, L.Conv2D):
            F, C, k, _ = layer.weight_shape
            modules.append(nn.Conv2d(C, F, k, stride=layer.stride, padding=layer.padding))
        elif isinstance(layer, L.Dense):
            modules.append(nn.Linear(*layer.params["w"].shape))
        elif isinstance(layer, (L.MaxPool2D, L.AvgPool2D)):
            pool = nn.MaxPool2d if isinstance(layer, L.MaxPool2D) else nn.AvgPool2d
            modules.append(pool(layer.kernel_size, layer.stride))
        else:
            modules.append({L.ReLU: nn.ReLU, L.Tanh: nn.Tanh, L.Flatten: nn.Flatten}[
                type(layer)]())
    return nn.Sequential(*modules).to(torch.float32 if dtype == np.float32 else torch.float64)
