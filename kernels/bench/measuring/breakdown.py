"""Where a training step's time goes, per component, for our CNN and for PyTorch's twin; and
the peak resident memory of a short training run of each.

A step is: data (gather the batch, random shift), forward through every layer, the loss,
backward through every layer, the optimiser's update. Ours is timed by wrapping each
layer's forward and backward; PyTorch's with module hooks (forward hooks, and backward
pre-hooks / hooks around each module's gradient), the loss around cross_entropy and its
autograd, and the update around optimizer.step. Components are layer kind x direction
(conv forward, conv backward, pool ..., activation ..., dense ..., flatten ...), plus data,
loss and update; what no timer covers (autograd's own bookkeeping, hooks) is "other".
Medians over `steps` steps after warm-up.

Memory: a fresh interpreter per contender (kernels.bench.measuring.memory_probe) trains
`steps` steps on random images and reports its peak resident set size, so one measurement
cannot inflate another's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from collections import defaultdict

import numpy as np

from cnn import layers as L
from cnn.data import random_shift
from cnn.model import build_model
from cnn.optim import Adam
from cnn.torch_twin import torch_model

from ... import get_backend

KINDS = {L.Conv2D: "conv", L.MaxPool2D: "pool", L.AvgPool2D: "pool", L.ReLU: "activation",
         L.Tanh: "activation", L.Dense: "dense", L.Flatten: "flatten"}
COMPONENTS = ("data", "conv forward", "pool forward", "activation forward", "dense forward",
              "flatten forward", "loss", "dense backward", "activation backward",
              "pool backward", "conv backward", "flatten backward", "update", "other")


def _batch(batch, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((4 * batch, 1, 28, 28)).astype(np.float32)
    return images, rng.integers(0, 10, 4 * batch), rng


def _timed(spent, key, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - start
    return wrapper


def ours(arch, backend_name, steps=20, batch=64):
    """Median seconds per component of our training step (Adam, 1-pixel shifts)."""
    from cnn.layers import softmax_cross_entropy

    model = build_model(arch, backend=get_backend(backend_name))
    optimizer, (images, labels, rng) = Adam(), _batch(batch)
    spent = defaultdict(float)
    for layer in model.layers:
        kind = KINDS[type(layer)]
        layer.forward = _timed(spent, f"{kind} forward", layer.forward)
        layer.backward = _timed(spent, f"{kind} backward", layer.backward)
    loss_fn = _timed(spent, "loss", softmax_cross_entropy)
    samples = []
    for step in range(steps + 3):  # three warm-up steps: JIT, auto's measurements, buffers
        spent.clear()
        start = time.perf_counter()
        t = time.perf_counter()
        chosen = rng.permutation(len(images))[:batch]
        x = random_shift(images[chosen], 1, rng)
        spent["data"] += time.perf_counter() - t
        logits = model.forward(x)
        _, dlogits = loss_fn(logits, labels[chosen])
        model.backward(dlogits)
        _timed(spent, "update", optimizer.step)(model.parameters())
        total = time.perf_counter() - start
        spent["other"] = total - sum(v for k, v in spent.items() if k != "other")
        if step >= 3:
            samples.append(dict(spent, total=total))
    return {k: float(np.median([s.get(k, 0.0) for s in samples]))
            for k in (*COMPONENTS, "total")}


def torch_twin(arch, steps=20, batch=64):
    """The same components for PyTorch's twin of the architecture."""
    import torch

    model = torch_model(arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels, rng = _batch(batch)
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    kinds = {torch.nn.Conv2d: "conv", torch.nn.MaxPool2d: "pool", torch.nn.AvgPool2d: "pool",
             torch.nn.ReLU: "activation", torch.nn.Tanh: "activation",
             torch.nn.Linear: "dense", torch.nn.Flatten: "flatten"}
    spent, started = defaultdict(float), {}

    def start_clock(module, *args):
        started[id(module)] = time.perf_counter()

    def end(kind, direction):
        def hook(*args):
            spent[f"{kind} {direction}"] += time.perf_counter() - started.pop(id(args[0]))
        return hook
    for module in model:
        kind = kinds[type(module)]
        module.register_forward_pre_hook(start_clock)
        module.register_forward_hook(end(kind, "forward"))
        module.register_full_backward_pre_hook(start_clock)
        module.register_full_backward_hook(end(kind, "backward"))
    samples = []
    for step in range(steps + 3):
        spent.clear()
        start = time.perf_counter()
        chosen = torch.from_numpy(rng.permutation(len(images))[:batch])
        t = time.perf_counter()
        x = random_shift(images[chosen].numpy(), 1, rng)
        x = torch.from_numpy(x)
        spent["data"] += time.perf_counter() - t
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        t = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(logits, labels[chosen])
        spent["loss"] += time.perf_counter() - t
        with warnings.catch_warnings():  # the first layer's input needs no gradient: fine
            warnings.filterwarnings("ignore", "Full backward hook is firing")
            loss.backward()
        t = time.perf_counter()
        optimizer.step()
        spent["update"] += time.perf_counter() - t
        total = time.perf_counter() - start
        spent["other"] = total - sum(v for k, v in spent.items() if k != "other")
        if step >= 3:
            samples.append(dict(spent, total=total))
    return {k: float(np.median([s.get(k, 0.0) for s in samples]))
            for k in (*COMPONENTS, "total")}


def peak_memory(arch, backend_name, threads, steps=20):
    """Peak resident bytes of a fresh process training `steps` steps ('torch' for the twin);
    None where the platform cannot say."""
    try:
        import resource  # noqa: F401  (POSIX only)
    except ImportError:
        return None
    result = subprocess.run([sys.executable, "-m", "kernels.bench.measuring.memory_probe", arch,
                             backend_name, str(steps), str(threads)], capture_output=True,
                            text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"memory probe of {backend_name} failed: "
                           f"{result.stderr.strip().splitlines()[-1:]}")
    return int(json.loads(result.stdout.strip().splitlines()[-1]))
