"""The peak probe's code: LLVM IR written out by hand and compiled for Numba's own target.

Why IR, not a Numba loop: the probe must issue exactly K independent vector FMAs a round on
registers of a chosen width, which no auto-vectoriser promises. `fma_ir` spells them out
(llvm.fma on <lanes x float>), `clock_ir` a chain of dependent register adds in inline
assembly (no optimiser can shorten it), and `compiled` turns either into a function Python
calls through ctypes, which releases the GIL so that threads run it at once. How the two
are timed, and why, is kernels.support.peak's docstring.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from . import machine

ACCUMULATORS = 12  # >= FMA latency x units (at most 5 x 2 seen), and fits 16 registers
ADDS_PER_BLOCK = 100


def _splat(name, value, vector, scalar, lanes):
    return (f"  %{name}.0 = insertelement {vector} undef, {scalar} {value}, i32 0\n"
            f"  %{name} = shufflevector {vector} %{name}.0, {vector} undef, "
            f"<{lanes} x i32> zeroinitializer\n")


def fma_ir(dtype, lanes: int, fused: bool = True) -> str:
    """LLVM IR of `double fma_loop(i64 n, double m, double c)`: n rounds of ACCUMULATORS
    independent `lanes`-wide multiply-adds; returns the sum of every lane (so that no lane
    can be dropped as unused)."""
    scalar = {np.float32: "float", np.float64: "double"}[np.dtype(dtype).type]
    suffix = {"float": "f32", "double": "f64"}[scalar]
    vector = f"<{lanes} x {scalar}>"
    intrinsic = f"llvm.fma.v{lanes}{suffix}"
    lines = [f"declare {vector} @{intrinsic}({vector}, {vector}, {vector})",
             f"declare {scalar} @llvm.vector.reduce.fadd.v{lanes}{suffix}({scalar}, {vector})",
             "define double @fma_loop(i64 %n, double %md, double %cd) {", "entry:"]
    convert = "fptrunc double" if scalar == "float" else "fadd double 0.0,"
    lines.append(f"  %ms = {convert} %md" + (f" to {scalar}" if scalar == "float" else ""))
    lines.append(f"  %cs = {convert} %cd" + (f" to {scalar}" if scalar == "float" else ""))
    body = _splat("m", "%ms", vector, scalar, lanes) + _splat("c", "%cs", vector, scalar, lanes)
    for k in range(ACCUMULATORS):  # distinct starts, so no two chains can be merged
        body += f"  %s{k} = fadd {scalar} %cs, {float(k):.1f}\n"
        body += _splat(f"init{k}", f"%s{k}", vector, scalar, lanes)
    lines += [body.rstrip("\n"), "  br label %loop", "loop:",
              "  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]"]
    for k in range(ACCUMULATORS):
        lines.append(f"  %a{k} = phi {vector} [ %init{k}, %entry ], [ %a{k}.next, %loop ]")
    for k in range(ACCUMULATORS):
        if fused:
            lines.append(f"  %a{k}.next = call {vector} @{intrinsic}({vector} %a{k}, "
                         f"{vector} %m, {vector} %c)")
        else:  # no fast-math flags: the multiply and the add stay two instructions
            lines.append(f"  %p{k} = fmul {vector} %a{k}, %m")
            lines.append(f"  %a{k}.next = fadd {vector} %p{k}, %c")
    lines += ["  %i.next = add i64 %i, 1", "  %done = icmp sge i64 %i.next, %n",
              "  br i1 %done, label %exit, label %loop", "exit:"]
    total = f"{scalar} 0.0"
    for k in range(ACCUMULATORS):
        lines.append(f"  %r{k} = call {scalar} @llvm.vector.reduce.fadd.v{lanes}{suffix}("
                     f"{total}, {vector} %a{k}.next)")
        total = f"{scalar} %r{k}"
    result = f"%r{ACCUMULATORS - 1}"
    if scalar == "float":
        lines.append(f"  %out = fpext float {result} to double")
        result = "%out"
    lines += [f"  ret double {result}", "}"]
    return "\n".join(lines) + "\n"


def clock_ir() -> str:
    """LLVM IR of `i64 add_chain(i64 n, i64 x, i64 y)`: n blocks of ADDS_PER_BLOCK dependent
    register adds (x86 inline assembly, so no optimiser can shorten the chain)."""
    adds = "\\0A".join(["add $2, $0"] * ADDS_PER_BLOCK)
    return f"""
define i64 @add_chain(i64 %n, i64 %x0, i64 %y) {{
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %x = phi i64 [ %x0, %entry ], [ %x.next, %loop ]
  %x.next = call i64 asm sideeffect "{adds}", "=r,0,r,~{{dirflag}},~{{fpsr}},~{{flags}}"(i64 %x, i64 %y)
  %i.next = add i64 %i, 1
  %done = icmp sge i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret i64 %x.next
}}
"""


class Compiled:
    """IR compiled for Numba's target and callable from Python through ctypes (which
    releases the GIL, so threads run it in parallel). Keeps the engine alive."""

    def __init__(self, ir: str, symbol: str, signature):
        binding = machine.llvm()
        name, features = machine.compile_target()
        module = binding.parse_assembly(ir)
        module.verify()
        self.tm = machine.target_machine(name, features, jit=True)
        self.assembly = self.tm.emit_assembly(module)
        self.engine = binding.create_mcjit_compiler(module, self.tm)
        self.engine.finalize_object()
        self.call = signature(self.engine.get_function_address(symbol))


@functools.lru_cache(maxsize=None)
def fma_kernel(dtype_name: str, lanes: int):
    """The FMA probe for `lanes`-wide vectors of a dtype, and whether it fused (a target
    without FMA instructions would call a library fma(): a multiply and an add instead)."""
    signature = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int64, ctypes.c_double,
                                 ctypes.c_double)
    kernel = Compiled(fma_ir(dtype_name, lanes), "fma_loop", signature)
    if "call" in kernel.assembly.split("fma_loop:", 1)[-1]:
        return Compiled(fma_ir(dtype_name, lanes, fused=False), "fma_loop", signature), False
    return kernel, True


@functools.lru_cache(maxsize=None)
def clock_kernel():
    """The add chain, or None off x86."""
    if not machine.llvm().get_process_triple().startswith(("x86_64", "i686", "i386")):
        return None
    signature = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                 ctypes.c_int64)
    return Compiled(clock_ir(), "add_chain", signature)
