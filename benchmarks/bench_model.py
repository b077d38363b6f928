"""Whole models: one training step (forward, backward, Adam) and a 10,000-image evaluation."""

import numpy as np

import kernels
from cnn.model import build_model
from cnn.optim import Adam

from .common import ARCHS, MAIN, MODEL_BACKENDS, Sampling, grid


class TrainStep(Sampling):
    param_names = ["backend", "arch"]
    params = [MODEL_BACKENDS, ARCHS]
    timeout = 600

    def setup(self, backend, arch):
        self.model = build_model(arch, backend=kernels.get_backend(backend))
        self.optimizer = Adam()
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
        self.labels = rng.integers(0, 10, 64)
        self.time_step(backend, arch)  # warm-up (JIT, optimiser state)

    def time_step(self, backend, arch):
        self.model.loss_and_grads(self.x, self.labels)
        self.optimizer.step(self.model.parameters())


class Evaluate10k:
    """The default grid evaluates once, with MAIN's backend: the training step above already
    times every fast backend on the same layers. No warm-up calls: setup warmed up."""

    param_names = ["backend", "arch"]
    params = [grid(MODEL_BACKENDS, MAIN), ARCHS]
    timeout = 900
    number = 1
    rounds = grid(2, 1)
    repeat = grid((1, 5, 60.0), 1)
    warmup_time = 0

    def setup(self, backend, arch):
        self.model = build_model(arch, backend=kernels.get_backend(backend))
        self.x = np.random.default_rng(0).standard_normal((10_000, 1, 28, 28)).astype(np.float32)
        self.model.predict_logits(self.x[:500])  # warm-up

    def time_evaluate(self, backend, arch):
        self.model.predict_logits(self.x, 500)
