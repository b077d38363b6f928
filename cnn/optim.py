"""Optimisers: SGD with momentum and Adam, updating parameters in place.

Both take the model's `parameters()` triples (name, param, grad). Weight decay is the classic
L2 penalty added to the gradient (g + wd * p), as in torch.optim.SGD / Adam. Their state is a
flat dict of arrays keyed by parameter name, so a checkpoint can store it in an .npz and a
resumed run continues bit for bit.

The learning-rate schedule is an exponential decay per epoch, lr_e = lr * decay**e: it
depends only on the epoch number, so stopping and resuming cannot change it.
"""

from __future__ import annotations

import numpy as np


class SGD:
    """v = momentum * v + g;  p -= lr * v   (PyTorch's formulation; momentum 0 is plain SGD)."""

    name = "sgd"

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = {}

    def step(self, parameters):
        for name, p, g in parameters:
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                v = self.velocity.get(name)
                if v is None:
                    v = self.velocity[name] = np.zeros_like(p)
                v *= self.momentum
                v += g
                g = v
            p -= p.dtype.type(self.lr) * g

    def state_dict(self):
        return {f"velocity/{k}": v for k, v in self.velocity.items()}

    def load_state_dict(self, state):
        self.velocity = {k.split("/", 1)[1]: v.copy() for k, v in state.items()
                         if k.startswith("velocity/")}


class Adam:
    """Kingma & Ba: m, v running moments of g and g^2, bias-corrected by 1 - beta**t."""

    name = "adam"

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t, self.m, self.v = 0, {}, {}

    def step(self, parameters):
        self.t += 1
        b1, b2 = self.betas
        # Bias corrections as in torch.optim.Adam: eps is added after sqrt(v) is corrected.
        step_size = self.lr / (1 - b1 ** self.t)
        correction2 = np.sqrt(1 - b2 ** self.t)
        for name, p, g in parameters:
            if self.weight_decay:
                g = g + self.weight_decay * p
            if name not in self.m:
                self.m[name], self.v[name] = np.zeros_like(p), np.zeros_like(p)
            m, v = self.m[name], self.v[name]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denominator = np.sqrt(v) / p.dtype.type(correction2) + p.dtype.type(self.eps)
            p -= p.dtype.type(step_size) * m / denominator

    def state_dict(self):
        state = {"t": np.array(self.t)}
        state.update({f"m/{k}": a for k, a in self.m.items()})
        state.update({f"v/{k}": a for k, a in self.v.items()})
        return state

    def load_state_dict(self, state):
        self.t = int(state["t"])
        self.m = {k[2:]: a.copy() for k, a in state.items() if k.startswith("m/")}
        self.v = {k[2:]: a.copy() for k, a in state.items() if k.startswith("v/")}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name, *, lr, weight_decay=0.0, momentum=0.9):
    if name == "sgd":
        return SGD(lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return Adam(lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def learning_rate(base_lr, decay, epoch):
    """lr for 0-based `epoch`: base_lr * decay**epoch."""
    return base_lr * decay ** epoch
