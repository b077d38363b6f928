"""Layers with hand-written forward and backward passes (no autograd).

Every layer has `params` and `grads` (dicts of arrays with the same keys; empty for layers
without parameters), `forward(x) -> y`, which remembers what backward needs, and
`backward(dy, input_grad=True) -> dx`, which fills `grads`; with input_grad=False a layer
may skip dx and return None (the first layer of a network: nobody needs the gradient with
respect to the images, and for a convolution it is a whole backward-data pass). Conv and
pooling layers hand their arithmetic to the convolution backend (`kernels.get_backend(...)`)
given at construction; the rest is a few lines of NumPy each.

Shapes: images are NCHW (N, C, H, W); Dense takes (N, features).
"""

from __future__ import annotations

import numpy as np

from kernels import capabilities
from kernels.shapes import conv2d_geometry, pool2d_geometry


def _computed_by(backend, cache) -> str:
    """The algorithm that computed a forward pass: a dispatcher's winner, else the backend."""
    winner = capabilities(backend).winner
    return winner(cache) if winner is not None else backend.name


def _he_normal(rng, shape, fan_in, gain, dtype):
    """Kaiming/He init: std = sqrt(gain / fan_in); gain 2 keeps ReLU activations' variance
    constant through depth, gain 1 (LeCun) suits tanh and the logits."""
    return (rng.standard_normal(shape) * np.sqrt(gain / fan_in)).astype(dtype)


class Layer:
    params: dict
    grads: dict
    computed_by: str | None = None  # conv and pooling: the algorithm of the latest forward

    def __init__(self):
        self.params, self.grads = {}, {}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Conv2D(Layer):
    """y (N, F, Ho, Wo) = conv(x (N, C, H, W), w (F, C, k, k)) + b (F,), via the backend."""

    relu = False  # whether the latest forward applied the next layer's ReLU (fused)

    def __init__(self, in_channels, out_channels, kernel_size, *, backend, rng, dtype,
                 stride=1, padding=0, gain=2.0):
        super().__init__()
        self.backend, self.stride, self.padding = backend, stride, padding
        self.weight_shape = (out_channels, in_channels, kernel_size, kernel_size)
        fan_in = in_channels * kernel_size * kernel_size
        self.params = {"w": _he_normal(rng, self.weight_shape, fan_in, gain, dtype),
                       "b": np.zeros(out_channels, dtype=dtype)}

    def forward(self, x, relu=False):
        """y; with relu, max(y, 0) by the backend's fused pass (the model asks for it only
        when the backend has one: kernels.epilogues.fuses_relu)."""
        run = self.backend.conv2d_relu_forward if relu else self.backend.conv2d_forward
        y, self.cache = run(x, self.params["w"], self.params["b"], stride=self.stride,
                            padding=self.padding)
        self.computed_by = _computed_by(self.backend, self.cache)
        self.relu = relu
        return y

    def _geometry(self, input_shape):
        x = np.empty(input_shape, dtype=self.params["w"].dtype)
        return conv2d_geometry(x, self.params["w"], self.params["b"], stride=self.stride,
                               padding=self.padding)

    def unsupported(self, input_shape):
        """Why the backend cannot compute this layer on inputs of that shape, or None."""
        return capabilities(self.backend).unsupported(self._geometry(input_shape))

    def output_shape(self, input_shape):
        """The shape of y, computed from the geometry alone (a dispatcher asked to compute
        would time its candidates on a shape that is never trained)."""
        return self._geometry(input_shape).y_shape

    def backward(self, dy, input_grad=True):
        """dx (None unless input_grad); dy is the gradient of what forward returned (after
        the ReLU when it was fused)."""
        run = self.backend.conv2d_relu_backward if self.relu else self.backend.conv2d_backward
        dx, self.grads["w"], self.grads["b"] = run(dy, self.cache, compute_dx=input_grad)
        self.cache = None  # free the columns/windows as soon as they are used
        return dx

    def __repr__(self):
        F, C, k, _ = self.weight_shape
        return f"Conv2D({C}->{F}, {k}x{k}, stride={self.stride}, padding={self.padding})"


class _Pool2D(Layer):
    kind = ""

    def __init__(self, kernel_size, *, backend, stride=None):
        super().__init__()
        self.backend, self.kernel_size, self.stride = backend, kernel_size, stride

    def forward(self, x):
        forward = getattr(self.backend, f"{self.kind}_pool2d_forward")
        y, self.cache = forward(x, self.kernel_size, stride=self.stride)
        self.computed_by = _computed_by(self.backend, self.cache)
        return y

    def output_shape(self, input_shape):
        """The shape of y, from the geometry alone (see Conv2D.output_shape)."""
        x = np.empty(input_shape, dtype=np.float32)
        return pool2d_geometry(x, self.kernel_size, stride=self.stride).y_shape

    def backward(self, dy, input_grad=True):
        dx = getattr(self.backend, f"{self.kind}_pool2d_backward")(dy, self.cache)
        self.cache = None
        return dx

    def __repr__(self):
        return f"{type(self).__name__}({self.kernel_size})"


class MaxPool2D(_Pool2D):
    """y (N, C, H/k, W/k): the maximum of each k x k window, via the backend."""
    kind = "max"


class AvgPool2D(_Pool2D):
    """y (N, C, H/k, W/k): the mean of each k x k window, via the backend."""
    kind = "avg"


class ReLU(Layer):
    """y = max(x, 0); dx = dy where x > 0, else 0 (the subgradient 0 at x = 0, as PyTorch).

    np.maximum and a multiply by the boolean mask are branch-free; np.where(mask, ...) is
    ~10x slower on large float32 arrays. NaN propagates, as in PyTorch.
    """

    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, x.dtype.type(0))

    def backward(self, dy, input_grad=True):
        return dy * self.mask


class Tanh(Layer):
    """y = tanh(x); dx = dy * (1 - y^2)."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy, input_grad=True):
        return dy * (1 - self.y * self.y)


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), and back for the gradient."""

    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, input_grad=True):
        return dy.reshape(self.input_shape)


class Dense(Layer):
    """y (N, out) = x (N, in) @ w (in, out) + b (out,).

    dw = x.T @ dy, db = sum over the batch of dy, dx = dy @ w.T.
    """

    def __init__(self, in_features, out_features, *, rng, dtype, gain=2.0):
        super().__init__()
        self.params = {"w": _he_normal(rng, (in_features, out_features), in_features, gain,
                                       dtype),
                       "b": np.zeros(out_features, dtype=dtype)}

    def forward(self, x):
        self.x = x
        return x @ self.params["w"] + self.params["b"]

    def backward(self, dy, input_grad=True):
        self.grads["w"] = self.x.T @ dy
        self.grads["b"] = dy.sum(axis=0)
        self.x = None
        return dy @ self.params["w"].T

    def __repr__(self):
        return f"Dense({self.params['w'].shape[0]}->{self.params['w'].shape[1]})"


def log_softmax(logits):
    """log softmax(logits (N, K)) along K, as z - max(z) - log(sum(exp(z - max(z)))): no exp
    overflows, and the largest probability's log is computed without cancellation."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits (N, K)) against integer labels (N,).

    Returns (loss, dlogits); the gradient is (softmax - onehot) / N.
    """
    log_probs = log_softmax(logits)
    rows = np.arange(len(labels))
    loss = -log_probs[rows, labels].mean()
    dlogits = np.exp(log_probs)
    dlogits[rows, labels] -= 1
    dlogits /= len(labels)
    return float(loss), dlogits
