"""A Sequential model and the named architectures.

The convolution backend is one object handed to `build_model`; conv and pooling layers call
it, nothing else depends on it, so switching backend changes no other line.
Inputs are (N, 1, 28, 28) images; outputs are (N, 10) logits.
"""

from __future__ import annotations

import numpy as np

from kernels import epilogues

from .layers import (AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Tanh,
                     softmax_cross_entropy)


class Sequential:
    """Layers applied in order; backward runs them in reverse."""

    def __init__(self, layers, *, arch=None, dtype=np.float32):
        self.layers, self.arch, self.dtype = list(layers), arch, np.dtype(dtype)
        self.fused = set()  # the ReLU layers whose work the conv before them did last time

    def _fusable(self, i) -> bool:
        """A conv whose backend fuses ReLU (kernels.epilogues), followed by a ReLU."""
        layer, following = self.layers[i], self.layers[i + 1:i + 2]
        return (isinstance(layer, Conv2D) and bool(following)
                and isinstance(following[0], ReLU) and epilogues.fuses_relu(layer.backend))

    def forward(self, x):
        """The layers in order; a conv followed by ReLU runs as one fused call when its
        backend fuses (the ReLU layer is then skipped: it holds no parameters)."""
        self.fused = set()
        for i, layer in enumerate(self.layers):
            if i in self.fused:
                continue
            if self._fusable(i):
                x = layer.forward(x, relu=True)
                self.fused.add(i + 1)
            else:
                x = layer.forward(x)
        return x

    def backward(self, dlogits, input_grad=False):
        """Fill every layer's grads; the gradient with respect to the input only when
        input_grad (training never needs it, and PyTorch skips it too), else None."""
        for i in range(len(self.layers) - 1, 0, -1):
            if i not in self.fused:  # a fused ReLU's backward runs inside its conv's
                dlogits = self.layers[i].backward(dlogits)
        return self.layers[0].backward(dlogits, input_grad=input_grad)

    def unsupported(self, input_shape=(1, 1, 28, 28)) -> str | None:
        """The first layer the backend does not compute, named, with the backend's reason;
        None when it computes them all. Shapes are traced with one image of zeros; conv and
        pooling layers give their output shape without computing (a dispatcher like auto
        would time every candidate on this one image)."""
        x = np.zeros(input_shape, dtype=self.dtype)
        for i, layer in enumerate(self.layers):
            reason = layer.unsupported(x.shape) if hasattr(layer, "unsupported") else None
            if reason is not None:
                return f"layer {i}, {layer!r}: {reason}"
            if hasattr(layer, "output_shape"):
                x = np.zeros(layer.output_shape(x.shape), dtype=self.dtype)
            else:
                x = layer.forward(x)
        return None

    def computed_by(self) -> dict[int, str]:
        """{layer index: the algorithm that computed its latest forward pass} for the layers
        that use the backend (a dispatcher's per-layer choice; a plain backend's name)."""
        return {i: layer.computed_by for i, layer in enumerate(self.layers)
                if getattr(layer, "computed_by", None) is not None}

    def use_backends(self, per_layer: dict[int, object]) -> None:
        """Compute layer i with per_layer[i] (e.g. the algorithms a dispatcher chose in
        training), the other backend layers unchanged."""
        for i, backend in per_layer.items():
            self.layers[i].backend = backend

    def loss_and_grads(self, x, labels):
        """Forward and backward on one batch; returns (loss, logits) and fills every grads."""
        logits = self.forward(x)
        loss, dlogits = softmax_cross_entropy(logits, labels)
        self.backward(dlogits)
        return loss, logits

    def predict_logits(self, x, batch_size=500, progress=None):
        """Logits (N, 10) in batches, so evaluation memory does not grow with N;
        progress(images_done) after each batch."""
        out = []
        for i in range(0, len(x), batch_size):
            out.append(self.forward(x[i:i + batch_size]))
            if progress is not None:
                progress(i + len(out[-1]))
        return np.concatenate(out)

    def parameters(self):
        """(name, param, grad-or-None) for every parameter, in a stable order."""
        for i, layer in enumerate(self.layers):
            for key, value in layer.params.items():
                yield f"{i}.{key}", value, layer.grads.get(key)

    def state_dict(self):
        return {name: value for name, value, _ in self.parameters()}

    def load_state_dict(self, state):
        """Copy arrays into the parameters; names, shapes and dtypes must all match. Nothing
        is copied unless everything matches, so a failed load leaves the model as it was."""
        own = self.state_dict()
        if set(own) != set(state):
            raise ValueError(f"parameter names differ: expected {sorted(own)}, "
                             f"got {sorted(state)}")
        for name, value in own.items():
            if state[name].shape != value.shape:
                raise ValueError(f"parameter {name} has shape {state[name].shape}, "
                                 f"expected {value.shape}")
            if state[name].dtype != value.dtype:
                raise ValueError(f"parameter {name} has dtype {state[name].dtype}, "
                                 f"expected {value.dtype}")
        for name, value in own.items():
            value[...] = state[name]

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential[{self.arch}](\n  {inner}\n)"


def _convnet(backend, rng, dtype):
    """Two conv blocks and two dense layers: ~99.3 % on MNIST in a few epochs."""
    conv = dict(backend=backend, rng=rng, dtype=dtype, padding=1)
    return [Conv2D(1, 32, 3, **conv), ReLU(), MaxPool2D(2, backend=backend),      # 32x14x14
            Conv2D(32, 64, 3, **conv), ReLU(), MaxPool2D(2, backend=backend),     # 64x7x7
            Flatten(), Dense(64 * 7 * 7, 128, rng=rng, dtype=dtype), ReLU(),
            Dense(128, 10, rng=rng, dtype=dtype, gain=1.0)]


def _lenet5(backend, rng, dtype):
    """LeCun et al. 1998: tanh and average-pool subsampling. C3 is fully connected here
    (the paper's sparse connection table was a compute-saving device of its time)."""
    conv = dict(backend=backend, rng=rng, dtype=dtype, gain=1.0)
    return [Conv2D(1, 6, 5, padding=2, **conv), Tanh(), AvgPool2D(2, backend=backend),  # C1 S2
            Conv2D(6, 16, 5, **conv), Tanh(), AvgPool2D(2, backend=backend),          # C3 S4
            Flatten(), Dense(16 * 5 * 5, 120, rng=rng, dtype=dtype, gain=1.0), Tanh(),  # C5
            Dense(120, 84, rng=rng, dtype=dtype, gain=1.0), Tanh(),                      # F6
            Dense(84, 10, rng=rng, dtype=dtype, gain=1.0)]


def _tiny(backend, rng, dtype):
    """The size of the classic NumPy-from-scratch demo: 8 filters 3x3, max pool, softmax."""
    return [Conv2D(1, 8, 3, backend=backend, rng=rng, dtype=dtype), ReLU(),      # 8x26x26
            MaxPool2D(2, backend=backend), Flatten(),                             # 8x13x13
            Dense(8 * 13 * 13, 10, rng=rng, dtype=dtype, gain=1.0)]


ARCHITECTURES = {"convnet": _convnet, "lenet5": _lenet5, "tiny": _tiny}


def build_model(arch="convnet", *, backend, seed=0, dtype=np.float32):
    """A freshly initialised model; the same seed gives the same initial parameters."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from "
                         f"{', '.join(ARCHITECTURES)}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    rng = np.random.default_rng(seed)
    return Sequential(ARCHITECTURES[arch](backend, rng, dtype), arch=arch, dtype=dtype)
