"""ONNX Runtime's CPU convolution in our contract, forward only: an ONNX Conv graph whose
weights are constants, run by an InferenceSession.

What ONNX Runtime computes natively (onnxruntime 1.x, CPU execution provider): with the
weights as initializers (constants of the graph) and all graph optimisations on, its NCHWc
transformer rewrites Conv into MLAS's channel-blocked convolution (activations reordered to
NCHW8c/16c by ReorderInput/ReorderOutput nodes inside the session, the filter reordered
once when the session is built), a direct kernel. Checked with optimized_model_filepath:
convnet.conv1 (C=1: only the output reordered), convnet.conv2, std.grouped and
std.depthwise each become a com.microsoft.nchwc Conv; a shape the transformer cannot block
stays ONNX Conv, MLAS's im2col + SGEMM. Padding (any top/bottom/left/
right), stride, dilation and groups are native. Only float32 is implemented: a float64
Conv has no CPU kernel ("NOT_IMPLEMENTED : Could not find an implementation for Conv(11)"),
so float64 is unsupported() rather than computed in float32.

Forward only (PASSES): inference runtimes compute no gradients. conv2d_backward exists
only to refuse (NotImplementedError), so the object still satisfies the kernels.Backend
Protocol; callers ask kernels.passes() first, and training with this backend is refused.

Sessions: the weights are baked into the session, so a session serves one (geometry, w, b).
They are cached, keyed by the geometry and the identity of w and b, and a hit is confirmed
by comparing the arrays' contents with the copies the session was built from (O(|w|),
small next to the convolution; an in-place update of w is seen and rebuilds the session).
Building a session (model construction, graph optimisation, filter reordering) is the
first call's cost, not the steady time's: `SESSIONS` records it per session. The cache
keeps the MAX_SESSIONS most recently used sessions.

What the wrapper converts, inside the timed call: x to a C-contiguous array (a copy only
if it is not one already); ONNX Runtime returns a fresh NumPy array in NCHW.

Threads: each session's intra-op pool is the count pinned with kernels.support.runtime
(else every usable core), the inter-op pool 1, execution sequential, and its idle workers
do not spin (session.intra_op.allow_spinning = 0), so they do not steal the cores from a
contender timed in between.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from ... import BACKWARD_DATA, BACKWARD_WEIGHTS, FORWARD
from ...shapes import conv2d_geometry
from ...support import runtime

name = "onnxruntime"
PASSES = (FORWARD,)
OPSET = 17
MAX_SESSIONS = 32

#: (geometry, id(w), id(b)) -> Session, most recently used last
SESSIONS: OrderedDict = OrderedDict()


class Session:
    """One InferenceSession and the weights it was built from."""

    def __init__(self, geo, w, b):
        self.w, self.b = np.array(w), None if b is None else np.array(b)  # copies: see above
        start = time.perf_counter()
        self.session = ort.InferenceSession(_model(geo, self.w, self.b).SerializeToString(),
                                            _options(), providers=["CPUExecutionProvider"])
        self.build_seconds = time.perf_counter() - start

    def holds(self, w, b) -> bool:
        same_b = b is None if self.b is None else \
            b is not None and np.array_equal(b, self.b, equal_nan=True)
        return same_b and np.array_equal(w, self.w, equal_nan=True)


def versions() -> dict:
    """onnxruntime, onnx, the execution provider and the thread count of new sessions."""
    return {"onnxruntime": ort.__version__, "onnx": onnx.__version__,
            "provider": "CPUExecutionProvider", "threads": _threads()}


def unsupported(geo) -> str | None:
    """Why ONNX Runtime's CPU provider cannot compute `geo`, or None."""
    if geo.dtype != np.float32:
        return (f"ONNX Runtime's CPU provider implements Conv in float32 only, not "
                f"{geo.dtype}")
    return None


def _threads() -> int:
    return runtime.pinned_threads() or runtime.usable_cores()


def _options():
    options = ort.SessionOptions()
    options.intra_op_num_threads = _threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _model(geo, w, b):
    top, bottom, left, right = geo.pad
    inputs = ["x", "w"] + ([] if b is None else ["b"])
    node = helper.make_node("Conv", inputs, ["y"], kernel_shape=[geo.kh, geo.kw],
                            pads=[top, left, bottom, right], strides=list(geo.stride),
                            dilations=list(geo.dilation), group=geo.groups)
    constants = [numpy_helper.from_array(w, "w")]
    if b is not None:
        constants.append(numpy_helper.from_array(b, "b"))
    graph = helper.make_graph(
        [node], "conv2d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, geo.x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, geo.y_shape)],
        initializer=constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # the IR version of opset 17
    return model


def session(geo, w, b) -> Session:
    """The cached session for (geo, w, b), built when there is none or w/b changed."""
    key = (geo, id(w), id(b))
    found = SESSIONS.get(key)
    if found is None or not found.holds(w, b):
        found = SESSIONS[key] = Session(geo, w, b)
        while len(SESSIONS) > MAX_SESSIONS:
            SESSIONS.popitem(last=False)
    SESSIONS.move_to_end(key)
    return found


def conv2d_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """y = the Conv graph's output for x; the cache is the geometry (nothing to back-prop)."""
    geo = conv2d_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    if reason := unsupported(geo):
        raise ValueError(f"onnxruntime does not compute this convolution: {reason}")
    y = session(geo, w, b).session.run(None, {"x": np.ascontiguousarray(x)})[0]
    return y, geo


def conv2d_backward(dy, cache, *, compute_dx=True, compute_dw=True):
    """Refused: ONNX Runtime computes the forward pass only (PASSES)."""
    raise NotImplementedError("onnxruntime computes the forward pass only (inference): no "
                              f"{BACKWARD_DATA} or {BACKWARD_WEIGHTS}; "
                              "see kernels.passes()")


POOLING_FROM = "numba"  # the registry lends it the shared pooling (kernels.backends.pooling)
