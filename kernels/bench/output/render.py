"""A report, rendered as text on the console while it runs, and the pieces the other
formats share (verdicts, the machine line, row builders): Markdown is kernels.bench.output.markdown,
CSV kernels.bench.output.csv_rows, charts kernels.bench.output.charts. The per-case tables come from
`columns.table`."""

from __future__ import annotations

from ...support.tables import aligned
from ...vocabulary import Pass
from ..judging.columns import count, ms, ratio, size, table, unsupported_notes
from ..measuring.libraries import environment_line, summary_rows

MODEL_SECTIONS = (  # report key, measured key, title
    ("train_steps", "step", "training step (forward, backward, Adam), batch 64"),
    ("evaluate", "evaluate", "evaluation of 10,000 images, batches of 500"),
)


def blas_summary(env) -> str:
    if isinstance(env["blas"], str):  # threadpoolctl missing: the reason
        return env["blas"]
    return ", ".join(f"{b['internal_api']} {b['version']} ({b['architecture']}, "
                     f"{b['num_threads']} threads)" for b in env["blas"])


def measured(row) -> str:
    """A target's figure as a ratio or a share."""
    if row["measured"] is None:
        return "-"
    return f"{row['measured']:.1%}" if row["unit"] == "%" else f"{row['measured']:,.2f}x"


# ------------------------------------------------------------------ console

def _aligned(headers, rows) -> str:
    """The console's tables: indented, the first column left, the figures right."""
    return aligned(headers, rows, align="lr", indent="  ")


def machine_line(env) -> str | None:
    """The machine's fingerprint in one line, with the computed peak as a labelled
    cross-check of the measured one; None for a report made before the fingerprint."""
    if not env.get("machine"):
        return None
    from ...support.machine import one_line
    line = f"Machine: {one_line(env['machine'])}"
    if env.get("formula_peak_gflops"):
        line += f"  (cross-check, computed at the listed {env['listed_clock_mhz']:.0f} MHz " \
            f"with one 256-bit FMA pair a core: {env['formula_peak_gflops']:.0f} GF/s)"
    return line


def peak_warning(report) -> str | None:
    """A line when the run's GEMM beat the measured peak by more than noise (10 %): then a
    busy moment slowed every round of the probe, and every share of peak reads too high."""
    env = report["environment"]
    peak, gemm = env.get("peak_gflops"), report["gemm"][env["dtype"]]["gflops"]
    if peak and gemm > 1.1 * peak:
        return f"warning: the GEMM ran at {gemm:.0f} GF/s, {gemm / peak:.2f}x the measured " \
            f"peak of {peak:.0f}: the probe was disturbed, so the shares of peak read high " \
            "(python -m kernels machine --refresh measures it again)"
    return None


def print_header(report):
    env, gemm = report["environment"], report["gemm"]
    print(f"{env['date']}  {env['cpu']}  {env['cores']} cores, {env['threads']} threads  "
          f"numpy {env['numpy']}  numba {env['numba']} ({env['numba_threading_layer']})  "
          f"torch {env['torch'] or '-'}  {env['dtype']}  malloc reuse {env['malloc_reuse']}")
    if line := machine_line(env):
        print(line)
    if warning := peak_warning(report):
        print(warning)
    memory = report["memory"]
    print(f"BLAS: {blas_summary(env)}.  GEMM limit: float32 {gemm['float32']['gflops']:.1f} "
          f"GF/s, float64 {gemm['float64']['gflops']:.1f} GF/s (n={gemm['float32']['n']}).  "
          f"Memory: triad {memory['triad_gbs']:.1f} GB/s, copy {memory['copy_gbs']:.1f} GB/s" +
          (f"\n{line}" if (line := environment_line(env)) else "") + "\n",
          flush=True)


def print_case(entry):
    flops = f"  ({entry['flops']['forward'] / 1e9:.3f} GFLOP forward)" if "flops" in entry else ""
    print(f"{entry['name']}  {entry['description']}{flops}")
    print(_aligned(*table(entry)))
    notes = sorted({r["note"] for r in entry["results"].values() if "note" in r})
    notes += [f"{b}: layout conversions take {shares}" for b, shares in conversions(entry)]
    print("".join(f"  * {note}\n" for note in notes + unsupported_notes(entry)), flush=True)


def conversions(entry) -> list[tuple[str, str]]:
    """(backend, "12% of forward, ...") for each backend that reported the share of its
    passes spent converting layouts (kernels.bench.measuring.layers.conversion_shares)."""
    return [(b, ", ".join(f"{share:.0%} of {Pass.from_key(p).label}" for p, share in
                          r["conversion_share"].items()))
            for b, r in entry["results"].items() if r.get("conversion_share")]


def print_libraries_summary(rows):
    """Per case and pass: the fastest library, our fastest algorithm, their ratio."""
    if rows:
        print("libraries against ours, per case and pass (median ms; ours / library below "
              "1.00x: ours is faster)")
        print(_aligned(*summary_rows(rows)) + "\n", flush=True)


def print_model(entry, section):
    key, title = next((k, t) for s, k, t in MODEL_SECTIONS if s == section)
    print(f"{entry['name']}  {title}")
    rows = [[b, ms(r[key]), ratio(r["time_vs_torch"])] for b, r in entry["results"].items()]
    print(_aligned(["backend", "ms", "x PyTorch"], rows) + "\n", flush=True)


def breakdown_rows(entry):
    """Milliseconds per component of a training step, one column per contender."""
    from ..measuring.breakdown import COMPONENTS

    backends = list(entry["results"])
    rows = [[c] + [f"{entry['results'][b][c] * 1e3:.2f}" for b in backends]
            for c in (*COMPONENTS, "total")]
    return ["component"] + backends, rows


def print_breakdown(entry):
    print(f"{entry['arch']} training step, where the time goes (ms, median of 20 steps)")
    print(_aligned(*breakdown_rows(entry)) + "\n", flush=True)


def memory_rows(entry):
    torch = entry["results"].get("torch")
    return ["backend", "peak RSS", "x PyTorch"], [
        [b, size(v), ratio(v / torch if torch else None)] for b, v in entry["results"].items()]


def print_memory(entry):
    print(f"{entry['arch']}: peak resident memory of 20 training steps, each in a fresh "
          "process")
    print(_aligned(*memory_rows(entry)) + "\n", flush=True)


LOAD_TITLE = ("machine load per section (1-minute load average at start/end; others: cores "
              "other processes used meanwhile; busy: load above the logical CPUs or others "
              "above a quarter core, its verdicts are marked)")


def load_rows(sections):
    """(headers, rows) of the load table: wall and CPU seconds, the load average, the other
    processes' cores, busy ones marked."""
    rows = [[name, f"{s['wall_seconds']:.1f}", f"{s['cpu_seconds']:.1f}",
             "-" if s["cpu_per_wall"] is None else f"{s['cpu_per_wall']:.2f}",
             "/".join("-" if v is None else f"{v:.1f}" for v in (s["load_start"],
                                                                s["load_end"])),
             "-" if s.get("others_per_wall") is None else f"{s['others_per_wall']:.2f}",
             "BUSY" if s["busy"] else ""] for name, s in sections.items()]
    return ["section", "wall s", "CPU s", "CPU/wall", "load", "others", ""], rows


def print_load(sections):
    print(LOAD_TITLE)
    print(_aligned(*load_rows(sections)) + "\n", flush=True)


def verdict(row, missed="MISSED") -> str:
    """met / MISSED, and "busy" when the machine was loaded while its figures were measured
    (kernels.bench.measuring.load): a verdict to take with salt."""
    if row["met"] is None:
        return "not judged"  # measured, but on a busy machine (kernels.bench.judging.targets)
    return ("met" if row["met"] else missed) + (" (busy)" if row.get("busy") else "")


def unjudged(rows) -> list[str]:
    """Sentences counting the targets this run did not judge, and why."""
    lines = []
    skipped = [r for r in rows if r.get("applicable") is False]
    for reason in dict.fromkeys(r["note"] for r in skipped):
        lines.append(f"{count(sum(r['note'] == reason for r in skipped), 'target')} "
                     f"{reason}")
    unmeasured = sum(r["met"] is None and r.get("applicable") is not False
                     and r.get("measured") is None for r in rows)
    if unmeasured:
        lines.append(f"{count(unmeasured, 'target')} not measured in this run")
    return lines


def print_targets(rows):
    shown = [r for r in rows if r["met"] is not None or r.get("measured") is not None]
    print("targets (ratios measured in this run)")
    for r in shown:
        print(f"  {verdict(r):13} {measured(r):>10}  {r['target']}" +
              (f"  ({r['note']})" if r["note"] else ""))
    for line in unjudged(rows):
        print(f"  ({line})")
    print()
