"""What makes the blocked kernels run in registers: the block width, read from the CPU, a
small array on the stack, and Numba compiling with LLVM's SLP vectoriser switched on.

Block width. A channel block is one vector register of the dtype: the register's bytes
(64 with AVX-512, 32 with AVX/AVX2, 16 otherwise: SSE2, NEON) over the item size, so 16
float32 lanes on an AVX-512 CPU, 8 on an AVX2 one, half that for float64. The width is the
one Numba compiles for (kernels.support.machine.vector_bits: NUMBA_CPU_NAME and
NUMBA_CPU_FEATURES included, with LLVM's 256-bit preference switched off where the target
has 512-bit registers), so a block is always one register of the instructions the kernels
are compiled to. `FORCED_BLOCK_WIDTH` overrides it (tests: the
result must not depend on it).

Registers. A kernel keeps its output tile (a few pixels x one channel block) in
`stack_array(SIZE, dtype)`: an LLVM alloca whose indices are all constants once the tile
loops are unrolled, so SROA turns it into SSA values that live in registers for the whole
reduction (a heap array from np.zeros could alias the inputs and would be re-loaded and
stored for every multiply-add). Numba compiles with the loop vectoriser only (config
SLP_VECTORIZE = 0): it would vectorise the *reduction* loop over input channels, which needs
reassociation, and spill the tile. The tile's B lanes are independent sums, the shape the
superword-level-parallelism (SLP) vectoriser packs into one vector FMA per pixel
(vfmadd231ps on zmm with AVX-512, measured with inspect_asm); `compiled_with_slp` switches
it on for the compilations of these kernels only, and fastmath is limited to 'contract'
(FMA): no reassociation, so sums run in a fixed order and NaN and inf propagate.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic

from ...support import machine

FORCED_BLOCK_WIDTH: int | None = None  # tests set it to check the result does not depend on it
JIT = dict(cache=True, nogil=True, fastmath={"contract"})
# The register-tiled kernels are closures (B, T and their tile functions) and are compiled
# in each process instead of cached on disk: Numba keys the cache on the pickled closure, and
# a pickled dispatcher differs in every process, so the kernels were compiled again anyway and
# appended one more entry to the cache index each run; and an uncached kernel that linked a
# tile loaded from the disk cache computed wrong float64 results (Numba 0.68; not understood,
# so not risked). First use costs a few seconds per layer shape class.
UNCACHED = dict(JIT, cache=False)


@functools.lru_cache(maxsize=None)
def vector_bytes() -> int:
    """The width in bytes of the vector registers Numba compiles for."""
    return machine.vector_bits() // 8


def block_width(dtype) -> int:
    """Channels per block: one vector register of `dtype` (or FORCED_BLOCK_WIDTH)."""
    if FORCED_BLOCK_WIDTH is not None:
        return FORCED_BLOCK_WIDTH
    return vector_bytes() // np.dtype(dtype).itemsize


@contextlib.contextmanager
def compiled_with_slp():
    """Numba reads its vectoriser settings each time it builds a pass pipeline: a compilation
    inside this block packs independent lanes into vectors (SLP) and leaves the loops alone
    (the loop vectoriser would vectorise a tap loop as an in-order reduction, with gathers:
    measured 10x slower on depthwise); other compilations are left as they were."""
    before = config.SLP_VECTORIZE, config.LOOP_VECTORIZE
    config.SLP_VECTORIZE, config.LOOP_VECTORIZE = 1, 0
    try:
        yield
    finally:
        config.SLP_VECTORIZE, config.LOOP_VECTORIZE = before


@intrinsic
def stack_array(typingctx, size, dtype):
    """A 1-D C array of `size` (a compile-time int) elements of `dtype` on the stack."""
    if not isinstance(size, types.IntegerLiteral) or not isinstance(dtype, types.DType):
        return None
    array_type = types.Array(dtype.dtype, 1, "C")

    def codegen(context, builder, signature, args):
        count = context.get_constant(types.intp, signature.args[0].literal_value)
        element = context.get_data_type(dtype.dtype)
        data = cgutils.alloca_once(builder, element, size=count)
        array = context.make_array(array_type)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(element))
        context.populate_array(array, data=data, shape=cgutils.pack_array(builder, [count]),
                               strides=cgutils.pack_array(builder, [itemsize]),
                               itemsize=itemsize, meminfo=None)
        return array._getvalue()

    return array_type(size, dtype), codegen
