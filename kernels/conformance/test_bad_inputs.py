"""Bad inputs: every backend refuses them, with the house's exception type and wording.

Each case is a call on a backend, the expected exception type and a regex that the message
must match (the argument's name as a word, plus the rule where it matters). Value problems
(rank, size, range, 'same' with stride) are ValueError; type problems (non-ndarray, integer or
complex dtype, mixed dtypes, bool/float where an int is expected) are TypeError. Arguments are
validated (`kernels.shapes`) before a backend looks at its range, so the cases hold whatever
range it declares. The backward passes' refusals of a bad dy are test_bad_grads.py, and how
a refusal is judged is kernels.conformance.refusals.

Correctness, for every backend: a bad input is refused with a ValueError or TypeError -
accepting it silently or crashing with another exception fails. The rest is a house
convention (`conventions`: mandatory for convbench's own backends, noted for a plug-in): which
of the two classes, the message's wording (the failure names the regex it expected), and
refusing a float32/float64 mix - which a backend may instead promote, if every number it
then computes is right (checked against the float64 reference with float32's bound).
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels.conformance import conventions
from kernels.conformance.bounds import conv_reduction_lengths
from kernels.conformance.compare import conv_reference
from kernels.conformance.conventions import all_of, word
from kernels.conformance.refusals import _b, _w, _x, assert_promoted_right, promotable, refuses

CATEGORY = "bad inputs"


class conv:
    """A conv2d_forward call with defaults x (2,2,5,5), w (3,2,3,3), b (3,), overridable."""

    def __init__(self, **kw):
        args = dict(x=_x(), w=_w(), b=_b())
        args.update({k: kw.pop(k) for k in ("x", "w", "b") if k in kw})
        self.x, self.w, self.b, self.params = args["x"], args["w"], args["b"], kw
        self.promotable = False  # a float32/float64 mix: promoting it right is allowed

    def __call__(self, backend):
        return backend.conv2d_forward(self.x, self.w, self.b, **self.params)

    def check_promoted(self, result):
        """The forward of a float32/float64 mix, computed anyway: y must be right."""
        y_ref, scale, _ = conv_reference(self.x, self.w, self.b, **self.params)
        K = conv_reduction_lengths(self.x, self.w, self.b, y_ref.shape,
                                   self.params.get("groups", 1))["y"]
        assert_promoted_right(result[0], y_ref, scale, K, (self.x, self.w, self.b), self.x.dtype,
                              "y")


CONV_ERRORS = [
    # rank and shape
    pytest.param(conv(x=_x((2, 5, 5))), ValueError, word("x"), id="x-3d"),
    pytest.param(conv(x=_x((1, 2, 2, 5, 5))), ValueError, word("x"), id="x-5d"),
    pytest.param(conv(w=_w((2, 3, 3))), ValueError, word("w"), id="w-3d"),
    pytest.param(conv(w=_w((3, 2, 3, 3, 1))), ValueError, word("w"), id="w-5d"),
    pytest.param(conv(x=_x((0, 2, 5, 5))), ValueError, word("x"), id="x-empty-batch"),
    pytest.param(conv(w=_w((3, 3, 3, 3))), ValueError, all_of("channel", word("w")),
                 id="channel-mismatch"),
    pytest.param(conv(w=_w((3, 1, 3, 3))), ValueError, all_of("channel", word("w")),
                 id="channel-mismatch-w-too-few"),
    pytest.param(conv(x=_x((1, 3, 5, 5)), w=_w((2, 1, 3, 3)), b=_b((2,)), groups=2),
                 ValueError, all_of(word("groups"), "input channels"), id="groups-not-dividing-C"),
    pytest.param(conv(x=_x((1, 4, 5, 5)), w=_w((3, 2, 3, 3)), groups=2),
                 ValueError, all_of(word("groups"), "output channels"),
                 id="groups-not-dividing-F"),
    pytest.param(conv(groups=0), ValueError, word("groups"), id="groups-zero"),
    pytest.param(conv(groups=-2), ValueError, word("groups"), id="groups-negative"),
    pytest.param(conv(groups=1.0), TypeError, word("groups"), id="groups-float"),
    pytest.param(conv(groups=True), TypeError, word("groups"), id="groups-bool"),
    # empty output
    pytest.param(conv(x=_x((1, 2, 3, 3)), w=_w((3, 2, 5, 5))), ValueError,
                 all_of("kernel", "larger"), id="kernel-larger-than-input"),
    pytest.param(conv(x=_x((1, 2, 5, 2))), ValueError, all_of("kernel", "larger"),
                 id="kernel-wider-than-input"),
    pytest.param(conv(dilation=3), ValueError, all_of("kernel", "larger"),
                 id="dilated-kernel-larger-than-input"),
    pytest.param(conv(x=_x((1, 2, 2, 2)), w=_w((3, 2, 5, 5)), padding=1), ValueError,
                 all_of("kernel", "larger", "padd"), id="kernel-larger-than-padded-input"),
    # stride / dilation / padding values
    pytest.param(conv(stride=0), ValueError, word("stride"), id="stride-zero"),
    pytest.param(conv(stride=-1), ValueError, word("stride"), id="stride-negative"),
    pytest.param(conv(stride=(1, 0)), ValueError, word("stride"), id="stride-pair-zero"),
    pytest.param(conv(dilation=0), ValueError, word("dilation"), id="dilation-zero"),
    pytest.param(conv(dilation=(0, 1)), ValueError, word("dilation"), id="dilation-pair-zero"),
    pytest.param(conv(padding=-1), ValueError, word("padding"), id="padding-negative"),
    pytest.param(conv(padding=(0, -1)), ValueError, word("padding"),
                 id="padding-pair-negative"),
    pytest.param(conv(padding="same", stride=2), ValueError, all_of("same", word("stride")),
                 id="same-with-stride2"),
    pytest.param(conv(padding="same", stride=(1, 2)), ValueError,
                 all_of("same", word("stride")), id="same-with-stride-1x2"),
    pytest.param(conv(padding="full"), ValueError, word("padding"), id="padding-unknown-str"),
    pytest.param(conv(padding="SAME"), ValueError, word("padding"), id="padding-wrong-case"),
    pytest.param(conv(padding=1.5), TypeError, word("padding"), id="padding-float"),
    # bool / float where an int is expected; pairs of the wrong length
    pytest.param(conv(stride=True), TypeError, word("stride"), id="stride-bool"),
    pytest.param(conv(stride=(1, True)), TypeError, word("stride"), id="stride-pair-with-bool"),
    pytest.param(conv(stride=1.0), TypeError, word("stride"), id="stride-float"),
    pytest.param(conv(dilation=False), TypeError, word("dilation"), id="dilation-bool"),
    pytest.param(conv(padding=True), TypeError, word("padding"), id="padding-bool"),
    pytest.param(conv(stride=(1, 1, 1)), ValueError, word("stride"), id="stride-pair-len3"),
    pytest.param(conv(padding=(1,)), ValueError, word("padding"), id="padding-pair-len1"),
    pytest.param(conv(dilation=()), ValueError, word("dilation"), id="dilation-pair-len0"),
    # beyond MAX_PARAMETER = 2**31 - 1: one error on every backend, never an OverflowError
    # from a compiled loop (PyTorch refuses such values too)
    pytest.param(conv(stride=2**31), ValueError, all_of(word("stride"), "2147483647"),
                 id="stride-2**31"),
    pytest.param(conv(stride=2**63), ValueError, word("stride"), id="stride-2**63"),
    pytest.param(conv(stride=(1, 2**64)), ValueError, word("stride"), id="stride-pair-2**64"),
    pytest.param(conv(dilation=2**63), ValueError, word("dilation"), id="dilation-2**63"),
    pytest.param(conv(w=_w((3, 2, 1, 1)), dilation=2**63), ValueError, word("dilation"),
                 id="dilation-2**63-1x1-kernel"),
    pytest.param(conv(padding=2**63), ValueError, word("padding"), id="padding-2**63"),
    # dtypes and types
    pytest.param(conv(x=_x().astype(np.int64)), TypeError, word("x"), id="x-int64"),
    pytest.param(conv(x=_x().astype(np.int32)), TypeError, word("x"), id="x-int32"),
    pytest.param(conv(x=_x().astype(np.complex128)), TypeError, word("x"), id="x-complex"),
    pytest.param(conv(x=_x().astype(np.float16)), TypeError, word("x"), id="x-float16"),
    pytest.param(conv(x=_x().astype(bool)), TypeError, word("x"), id="x-bool"),
    pytest.param(conv(w=_w().astype(np.int64)), TypeError, word("w"), id="w-int64"),
    pytest.param(conv(w=_w().astype(np.complex64)), TypeError, word("w"), id="w-complex"),
    pytest.param(promotable(conv(x=_x(dtype=np.float32), b=_b(dtype=np.float32))), TypeError,
                 all_of(word("w"), "dtype"), id="x-f32-w-f64"),
    pytest.param(promotable(conv(w=_w(dtype=np.float32), b=_b(dtype=np.float32))), TypeError,
                 all_of(word("w"), "dtype"), id="x-f64-w-f32"),
    pytest.param(conv(x=_x().tolist()), TypeError, word("x"), id="x-list"),
    pytest.param(conv(x=3.0), TypeError, word("x"), id="x-scalar"),
    pytest.param(conv(w=_w().tolist()), TypeError, word("w"), id="w-list"),
    # masked arrays: the mask is not part of the maths, so they are refused, not half-honoured
    pytest.param(conv(x=np.ma.masked_array(_x(), mask=_x() > 1)), TypeError,
                 all_of(word("x"), "masked"), id="x-masked"),
    pytest.param(conv(w=np.ma.masked_array(_w())), TypeError, all_of(word("w"), "masked"),
                 id="w-masked"),
    pytest.param(conv(b=np.ma.masked_array(_b())), TypeError, all_of(word("b"), "masked"),
                 id="b-masked"),
    # bias
    pytest.param(conv(b=_b((4,))), ValueError, word("b"), id="bias-wrong-length"),
    pytest.param(conv(b=_b((3, 1))), ValueError, word("b"), id="bias-2d"),
    pytest.param(promotable(conv(b=_b(dtype=np.float32))), TypeError, word("b"),
                 id="bias-f32-with-f64"),
    pytest.param(promotable(conv(x=_x(dtype=np.float32), w=_w(dtype=np.float32))), TypeError,
                 word("b"), id="bias-f64-with-f32"),
    pytest.param(conv(b=_b().astype(np.int64)), TypeError, word("b"), id="bias-int"),
    pytest.param(conv(b=[0.0, 0.0, 0.0]), TypeError, word("b"), id="bias-list"),
]


@pytest.mark.parametrize("call, exc, match", CONV_ERRORS)
def test_conv_forward_rejects(backend, call, exc, match):
    """conv2d_forward refuses a bad argument: `exc` with a message naming it (a float32/float64
    mix may be computed right instead; see the module docstring)."""
    refuses(lambda: call(backend), exc, match, conventions.CONV_HELPER,
            call.check_promoted if call.promotable else None)


POOL_ERRORS = [
    pytest.param(dict(x=_x((2, 5, 5))), ValueError, word("x"), id="x-3d"),
    pytest.param(dict(x=_x((1, 1, 2, 5, 5))), ValueError, word("x"), id="x-5d"),
    pytest.param(dict(x=_x((2, 0, 5, 5))), ValueError, word("x"), id="x-empty-channels"),
    pytest.param(dict(x=_x().astype(np.int64)), TypeError, word("x"), id="x-int64"),
    pytest.param(dict(x=_x().astype(np.complex128)), TypeError, word("x"), id="x-complex"),
    pytest.param(dict(x=_x().tolist()), TypeError, word("x"), id="x-list"),
    pytest.param(dict(k=0), ValueError, word("kernel_size"), id="kernel-zero"),
    pytest.param(dict(k=-2), ValueError, word("kernel_size"), id="kernel-negative"),
    pytest.param(dict(k=(2, 0)), ValueError, word("kernel_size"), id="kernel-pair-zero"),
    pytest.param(dict(k=True), TypeError, word("kernel_size"), id="kernel-bool"),
    pytest.param(dict(k=2.0), TypeError, word("kernel_size"), id="kernel-float"),
    pytest.param(dict(k=(2, 2, 2)), ValueError, word("kernel_size"), id="kernel-pair-len3"),
    pytest.param(dict(k=2**63), ValueError, word("kernel_size"), id="kernel-2**63"),
    pytest.param(dict(stride=2**63), ValueError, word("stride"), id="stride-2**63"),
    pytest.param(dict(x=np.ma.masked_array(_x())), TypeError, all_of(word("x"), "masked"),
                 id="x-masked"),
    pytest.param(dict(stride=0), ValueError, word("stride"), id="stride-zero"),
    pytest.param(dict(stride=(2, -1)), ValueError, word("stride"), id="stride-pair-negative"),
    pytest.param(dict(stride=True), TypeError, word("stride"), id="stride-bool"),
    pytest.param(dict(stride=(1,)), ValueError, word("stride"), id="stride-pair-len1"),
    pytest.param(dict(padding=-1), ValueError, word("padding"), id="padding-negative"),
    pytest.param(dict(k=3, padding=2), ValueError, all_of(word("padding"), "half"),
                 id="padding-more-than-half-kernel"),
    pytest.param(dict(k=2, padding=2), ValueError, all_of(word("padding"), "half"),
                 id="padding-equal-to-kernel"),
    pytest.param(dict(k=(2, 4), padding=(2, 0)), ValueError, all_of(word("padding"), "half"),
                 id="padding-pair-more-than-half-rows"),
    pytest.param(dict(k=(4, 1), padding=(2, 1)), ValueError, all_of(word("padding"), "half"),
                 id="padding-pair-more-than-half-cols"),
    pytest.param(dict(padding="same"), TypeError, word("padding"), id="padding-str"),
    pytest.param(dict(padding=False), TypeError, word("padding"), id="padding-bool"),
    pytest.param(dict(x=_x((1, 1, 3, 3)), k=4), ValueError, all_of("kernel", "larger"),
                 id="kernel-larger-than-input"),
    pytest.param(dict(x=_x((1, 1, 2, 6)), k=(5, 2), padding=(1, 0)), ValueError,
                 all_of("kernel", "larger", "padd"), id="kernel-larger-than-padded-input"),
]


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("args, exc, match", POOL_ERRORS)
def test_pool_forward_rejects(backend, pool, args, exc, match):
    """{max,avg}_pool2d_forward refuse a bad argument: `exc` with a message naming it."""
    args = dict(args)
    x, k = args.pop("x", _x()), args.pop("k", 2)
    refuses(lambda: getattr(backend, f"{pool}_pool2d_forward")(x, k, **args), exc, match,
            conventions.POOL_HELPER)
