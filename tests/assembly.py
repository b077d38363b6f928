"""The instructions blocked's register tiles compile to, for whatever target Numba compiles for.

Run as a program (`python -m assembly`, with tests/ on the path) under NUMBA_CPU_NAME and
NUMBA_CPU_FEATURES; it prints one JSON object: the block width, the vector width Numba
compiles for, and for each tile the register class of its vector multiply-adds (None when
it has none). The assembly test (test_blocked.py) runs it once per LLVM CPU, so a developer
on one vendor's machine proves the code another vendor's machine gets. Nothing is executed
for the foreign target: the kernels are only compiled and their assembly read.
"""

from __future__ import annotations

import json
import re

import numpy as np

# A fused multiply-add (FMA targets), else the multiply of a multiply-add (SSE: mulps).
_VECTOR_MULTIPLY_ADD = re.compile(r"\b(?:vfmadd\w+|v?mulp[sd])\s[^\n]*%([xyz]mm)")


def register_classes(assembly: str) -> list[str]:
    """The register classes (xmm, ymm, zmm) the vector multiply-adds of `assembly` use."""
    return sorted(set(_VECTOR_MULTIPLY_ADD.findall(assembly)))


def blocked_tiles() -> dict:
    import numba
    from numba import njit

    from kernels.backends.blocked import backward_data, backward_weights, forward, registers
    from kernels.support import machine

    B = registers.block_width(np.float32)
    a5, a6, i = numba.float32[:, :, :, :, ::1], numba.float32[:, :, :, :, :, ::1], numba.int64
    T = forward.PIXELS
    tiles = {"forward": (forward._tile(B, T), (a5, a6, a5) + (i,) * 11),
             "backward-data": (backward_data._tile(B, T), (a5, a6, a5) + (i,) * 11),
             "backward-weights": (backward_weights._tile(B, backward_weights._lanes_per_tile(B)),
                                  (a5, a5, a6) + (i,) * 12)}
    found = {}
    for what, (tile, signature) in tiles.items():
        fresh = njit(fastmath={"contract"})(tile.py_func)  # cached code cannot be inspected
        with registers.compiled_with_slp():
            fresh.compile(signature)
        assembly = "".join(fresh.inspect_asm().values())
        found[what] = dict(registers=register_classes(assembly),
                           fma="vfmadd" in assembly)
    name, features = machine.compile_target()
    return dict(cpu=name, features=features, block_width=B, vector_bits=machine.vector_bits(),
                tiles=found)


if __name__ == "__main__":
    print(json.dumps(blocked_tiles()))
