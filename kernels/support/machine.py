"""Which machine a result describes: the instructions Numba compiles for, and a fingerprint.

Vector width. Numba hands LLVM a CPU name and a feature string (NUMBA_CPU_NAME and
NUMBA_CPU_FEATURES, else the host's). Some CPUs' tuning, Intel's AVX-512 server cores among
them, carries LLVM's `prefer-256-bit`: the vectorisers then emit two 256-bit FMAs where one
512-bit FMA would do, and blocked's 16-lane tiles ran at half their width there. So before
Numba's code generator exists, `full_vector_width()` appends `-prefer-256-bit` to the
features whenever the target has 512-bit registers. That is decided from the features, never
from a vendor's name, and a user's own `+prefer-256-bit` (or `-`) in NUMBA_CPU_FEATURES wins.

The widest register is found by asking LLVM, not by parsing feature names: a 16-float
addition is compiled for the target and the registers in its assembly say the width (zmm:
512, ymm: 256, otherwise 128: xmm, NEON). That also answers for any NUMBA_CPU_NAME, e.g.
`NUMBA_CPU_NAME=sapphirerapids NUMBA_CPU_FEATURES=""` (that CPU's own features) on an AMD
host, which is how the assembly tests prove other CPUs' code from one machine.

Fingerprint. `identity(threads)` is what every result names: vendor and model, LLVM's name
for the host and for the target Numba compiles for, the ISA features that matter to
convolution, the vector width the kernels compile to, cores and threads, and the BLAS
kernel; kernels.support.peak.fingerprint adds the measured FMA peak, clock and memory
bandwidth. `id` hashes the parts that make two machines' timings incomparable.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform

from . import runtime

# The features that decide how fast a convolution can be: LLVM's name -> the usual spelling.
ISA_FEATURES = {"sse4.2": "SSE4.2", "avx": "AVX", "avx2": "AVX2", "fma": "FMA",
                "avx512f": "AVX-512F", "avx512bf16": "AVX-512 BF16", "amx-tile": "AMX"}
PREFERENCE = "prefer-256-bit"

_PROBE_IR = """
define void @widest(<16 x float>* %p) {
  %v = load <16 x float>, <16 x float>* %p
  %w = fadd <16 x float> %v, %v
  store <16 x float> %w, <16 x float>* %p
  ret void
}
"""


def llvm():
    """llvmlite's binding with the native target ready to emit assembly."""
    from llvmlite import binding

    binding.initialize_native_target()
    binding.initialize_native_asmprinter()
    binding.initialize_native_asmparser()  # the clock probe is inline assembly
    return binding


def _numba_codegen():
    """Numba's CPU code generator if it exists already (it is made when the first kernel is
    decorated), else None: from then on it compiles for the target it was made with."""
    import sys
    if "numba" not in sys.modules:
        return None
    from numba.core.registry import cpu_target
    context = cpu_target.__dict__.get("_toplevel_target_context")
    return None if context is None else context.codegen()


def compile_target() -> tuple[str, str]:
    """(LLVM CPU name, feature string) that Numba compiles for, read the way Numba reads
    them: its code generator's own once it exists, else NUMBA_CPU_NAME / NUMBA_CPU_FEATURES
    falling back to the host's (Numba's host features also honour NUMBA_ENABLE_AVX=0)."""
    codegen = _numba_codegen()
    if codegen is not None:
        return codegen._get_host_cpu_name(), codegen._tm_features
    from numba.core import config
    from numba.core.codegen import get_host_cpu_features

    config.reload_config()
    name = config.CPU_NAME or llvm().get_host_cpu_name()
    features = config.CPU_FEATURES
    return name, get_host_cpu_features() if features is None else features


def target_machine(name: str, features: str, *, jit: bool = False):
    """An LLVM target machine for this process's architecture, CPU `name` and `features`
    (as Numba makes its own: static relocation for JIT code on x86)."""
    binding = llvm()
    target = binding.Target.from_triple(binding.get_process_triple())
    if not jit:
        return target.create_target_machine(cpu=name, features=features, opt=3)
    x86 = target.name.startswith("x86")
    return target.create_target_machine(cpu=name, features=features, opt=3, jit=True,
                                        reloc="static" if x86 else "default",
                                        codemodel="jitdefault")


@functools.lru_cache(maxsize=None)
def widest_vector_bits(name: str, features: str) -> int:
    """The widest vector register of the target: 512, 256 or 128 bits."""
    module = llvm().parse_assembly(_PROBE_IR)
    assembly = target_machine(name, features).emit_assembly(module)
    if "zmm" in assembly:
        return 512
    return 256 if "ymm" in assembly else 128


def _stated_preference(features: str) -> str | None:
    """'+' or '-' as `features` last state LLVM's prefer-256-bit (LLVM reads them in order),
    or None when they do not mention it."""
    stated = [f.strip()[0] for f in features.split(",")
              if f.strip()[:1] in ("+", "-") and f.strip()[1:] == PREFERENCE]
    return stated[-1] if stated else None


def configure_numba() -> None:
    """Numba's process-wide settings, made once before its first kernel is decorated (which
    is when it fixes its target), by kernels.support.jit (every kernel of the project is
    decorated with its njit, which calls this once first); a user's own settings win.

    - Threading layer: OpenMP's worker threads spin after each parallel loop and fight
      OpenBLAS's threads for the cores; Numba's own workqueue layer sleeps instead
      (measured: ~25 % faster training steps on 2 cores when the two alternate).
    - Vector width: the widest registers the target has (full_vector_width).
    """
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    full_vector_width()


def full_vector_width() -> bool:
    """Let Numba's vectorisers use the target's widest registers: append -prefer-256-bit to
    the features Numba will compile for when the target has 512-bit registers and nobody
    stated the preference. Effective only before Numba's code generator exists (import
    kernels.support.jit.njit to decorate Numba kernels of your own); returns whether the
    preference is now off for a 512-bit target."""
    name, features = compile_target()
    if widest_vector_bits(name, features) < 512:
        return False
    if (stated := _stated_preference(features)) is not None:
        return stated == "-"
    if _numba_codegen() is not None:
        return False  # too late: the generator already has its target
    os.environ["NUMBA_CPU_FEATURES"] = f"{features},-{PREFERENCE}" if features \
        else f"-{PREFERENCE}"
    from numba.core import config
    config.reload_config()  # the generator reads the config, which reads the environment
    return True


def vector_bits() -> int:
    """The vector width Numba's kernels compile to: the widest register, unless LLVM's
    256-bit preference stays on (a user's +prefer-256-bit, or a code generator made before
    kernels.backends could switch it off, for a CPU whose tuning carries it). Applies
    configure_numba() first, as the kernels do."""
    configure_numba()
    name, features = compile_target()
    widest = widest_vector_bits(name, features)
    if widest < 512:
        return widest
    stated = _stated_preference(features)
    if stated is not None:
        return 256 if stated == "+" else 512
    return 256 if _tuned_for_256(name) else 512


@functools.lru_cache(maxsize=None)
def _tuned_for_256(name: str) -> bool:
    """Whether CPU `name`'s own tuning prefers 256-bit vectors: a 16-float loop compiled
    with LLVM's loop vectoriser uses ymm on such a CPU (only asked when the preference can
    no longer be switched off)."""
    from numba import njit  # the generator exists already: compiling here changes nothing

    @njit(cache=False)
    def scale(a):
        for i in range(a.shape[0]):
            a[i] = a[i] * 2.0 + 1.0

    scale.compile("void(float32[::1])")  # compiled, never run: it may be a foreign CPU's
    assembly = "".join(scale.inspect_asm().values())
    return "zmm" not in assembly


def foreign_target() -> str | None:
    """Why code compiled for Numba's target must not run here (NUMBA_CPU_NAME names another
    CPU: its code may use instructions this one lacks), or None."""
    name, _ = compile_target()
    host = llvm().get_host_cpu_name()
    if name in (host, "host"):
        return None
    return f"Numba compiles for {name} (NUMBA_CPU_NAME), not for this CPU ({host})"


def host_isa() -> list[str]:
    """The convolution-relevant ISA features of the host CPU, in ISA_FEATURES' spelling."""
    try:
        host = llvm().get_host_cpu_features()
    except RuntimeError:  # LLVM cannot read them on this platform
        return []
    return [label for key, label in ISA_FEATURES.items() if host.get(key, False)]


def vendor() -> str:
    """/proc/cpuinfo's vendor_id (GenuineIntel, AuthenticAMD, ...) or the architecture."""
    for line in runtime.cpuinfo().splitlines():
        if line.startswith(("vendor_id", "CPU implementer")):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def identity(threads: int) -> dict:
    """The fingerprint without measurements (kernels.support.peak.fingerprint adds them):
    cheap, and `id` keys the measured peak's cache."""
    name, features = compile_target()
    info = dict(vendor=vendor(), model=runtime.cpu_model(), llvm_cpu=llvm().get_host_cpu_name(),
                compiled_for=name, isa=host_isa(), vector_bits=vector_bits(),
                cores=runtime.physical_cores() or os.cpu_count(),
                logical_cpus=os.cpu_count(), threads=threads)
    key = {k: info[k] for k in ("vendor", "model", "compiled_for", "isa", "vector_bits",
                                "cores", "threads")}
    key["features"] = features
    info["id"] = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    info["blas"] = runtime.blas_kernel()
    return info


def one_line(info: dict) -> str:
    """The fingerprint as the console header's one line."""
    isa = "/".join(info.get("isa") or []) or "no SIMD extensions seen"
    parts = [f"{info.get('model')} ({info.get('llvm_cpu')}",
             f"compiled for {info.get('compiled_for')}" if info.get("compiled_for")
             != info.get("llvm_cpu") else None]
    head = ", ".join(p for p in parts if p) + ")"
    line = f"{head}  {isa}  {info.get('vector_bits')}-bit vectors  " \
        f"{info.get('cores')} cores, {info.get('threads')} threads"
    peak = (info.get("peak") or {}).get("float32")
    if peak:
        line += f"  peak {peak['gflops']:.0f} GF/s f32"
        if peak.get("clock_mhz"):
            line += f" at {peak['clock_mhz'] / 1e3:.2f} GHz, {peak['fma_units']} FMA units a core"
    if info.get("not_measured"):
        line += f"  peak not measured: {info['not_measured']}"
    if info.get("bandwidth_gbs"):
        line += f"  {info['bandwidth_gbs']:.0f} GB/s"
    if info.get("blas"):
        line += f"  BLAS {info['blas']}"
    return line + f"  [machine {info.get('id')}]"
