"""Whole CNNs: one training step and a 10,000-image evaluation, ours and PyTorch's twin.

The one module of `kernels` that imports `cnn`: the measurement layer sits above the CNN,
which sits above the backends.
"""

from __future__ import annotations

import time

import numpy as np

from cnn.layers import softmax_cross_entropy
from cnn.model import build_model
from cnn.optim import Adam
from cnn.torch_twin import torch_model

from ... import get_backend
from .instruments import summary

BATCH = 64
EVAL_IMAGES, EVAL_BATCH = 10_000, 500


def _batch(dtype, batch):
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 1, 28, 28)).astype(dtype), rng.integers(0, 10, batch)


def can_run(arch, backend_name, dtype=np.float32) -> bool:
    """Whether the backend computes every layer of the architecture (see unsupported())."""
    model = build_model(arch, backend=get_backend(backend_name), dtype=dtype)
    return model.unsupported() is None


def _stepper(arch, backend_name, dtype, batch):
    """step(input_grad): one optimisation step (forward, loss, backward, Adam update) of our
    CNN; input_grad=True also computes the first layer's input gradient, which training never
    needs."""
    model = build_model(arch, backend=get_backend(backend_name), dtype=dtype)
    optimizer = Adam()
    x, labels = _batch(dtype, batch)

    def step(input_grad=False):
        _, dlogits = softmax_cross_entropy(model.forward(x), labels)
        model.backward(dlogits, input_grad=input_grad)
        optimizer.step(model.parameters())
    return step


def train_step(arch, backend_name, dtype, batch=BATCH):
    """One training step of our CNN, as `python -m cnn train` runs it, as a call to time."""
    step = _stepper(arch, backend_name, dtype, batch)
    return lambda: step(False)


def first_layer_dx(arch, backend_name, dtype, repeats, batch=BATCH):
    """What skipping the first layer's dx saves: the step without it and with it, alternated
    step by step on one model, 3 x repeats pairs, so that the machine's drift and noise hit
    both alike (two separate measurements differed by more than the saving)."""
    step = _stepper(arch, backend_name, dtype, batch)
    for _ in range(2):  # warm-up: JIT, auto's measurements, buffers
        step(False), step(True)
    samples = {False: [], True: []}
    for _ in range(3 * repeats):
        for input_grad in (False, True):
            start = time.perf_counter()
            step(input_grad)
            samples[input_grad].append(time.perf_counter() - start)
    return dict(skipped=summary(samples[False]), computed=summary(samples[True]))


def evaluate(arch, backend_name, dtype, images=EVAL_IMAGES, batch=EVAL_BATCH):
    """Logits for `images` test-sized images, in batches, as `cnn evaluate` does, as a call
    to time."""
    model = build_model(arch, backend=get_backend(backend_name), dtype=dtype)
    x = np.random.default_rng(0).standard_normal((images, 1, 28, 28)).astype(dtype)
    return lambda: model.predict_logits(x, batch)


def torch_train_step(arch, dtype, batch=BATCH):
    """The same step for PyTorch's twin: forward, cross-entropy, autograd, torch.optim.Adam."""
    import torch

    model = torch_model(arch, dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, labels = (torch.from_numpy(a) for a in _batch(dtype, batch))

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        optimizer.step()
    return step


def torch_evaluate(arch, dtype, images=EVAL_IMAGES, batch=EVAL_BATCH):
    """The twin's logits for the same images, without autograd."""
    import torch

    model = torch_model(arch, dtype).eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(
        (images, 1, 28, 28)).astype(dtype))

    def run():
        with torch.no_grad():
            return [model(x[i:i + batch]) for i in range(0, images, batch)]
    return run
