"""A report, rendered as text: console tables while it runs, Markdown (`--markdown`, so the
README's figures are pasted from a file the report wrote, not typed by hand) and CSV
(`--csv`). The per-case tables of both tables come from `columns.table`; charts are in
kernels.bench.charts."""

from __future__ import annotations

from .columns import count, ms, ratio, size, table, unsupported_notes
from .libraries import NOT_COMPUTED, PASS_KEYS, environment_line, summary_rows

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

def _aligned(headers, rows, indent="  ") -> str:
    widths = [max(len(r[i]) for r in [headers] + rows) for i in range(len(headers))]

    def line(cells):
        return indent + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join(line(r) for r in [headers] + rows)


def machine_line(env) -> str | None:
    """The machine's fingerprint in one line, with the computed peak as a labelled
    cross-check of the measured one; None for a report made before the fingerprint."""
    if not env.get("machine"):
        return None
    from ..support.machine import one_line
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


PASS_LABELS = {key: name for name, key in PASS_KEYS.items()}  # result key -> pass name


def conversions(entry) -> list[tuple[str, str]]:
    """(backend, "12% of forward, ...") for each backend that reported the share of its
    passes spent converting layouts (kernels.bench.layers.conversion_shares)."""
    return [(b, ", ".join(f"{share:.0%} of {PASS_LABELS[p]}" for p, share in
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
    from .breakdown import COMPONENTS

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


def print_load(sections):
    """Per section: wall and CPU seconds and the load average, busy ones marked."""
    print("machine load per section (1-minute load average at start/end; busy: above the "
          "logical CPUs, its verdicts are marked)")
    rows = [[name, f"{s['wall_seconds']:.1f}", f"{s['cpu_seconds']:.1f}",
             "-" if s["cpu_per_wall"] is None else f"{s['cpu_per_wall']:.2f}",
             "/".join("-" if v is None else f"{v:.1f}" for v in (s["load_start"],
                                                                s["load_end"])),
             "BUSY" if s["busy"] else ""] for name, s in sections.items()]
    print(_aligned(["section", "wall s", "CPU s", "CPU/wall", "load", ""], rows) + "\n",
          flush=True)


def verdict(row, missed="MISSED") -> str:
    """met / MISSED, and "busy" when the machine was loaded while its figures were measured
    (kernels.bench.load): a verdict to take with salt."""
    if row["met"] is None:
        return "not judged"  # measured, but on a busy machine (kernels.bench.targets)
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


# ------------------------------------------------------------------ Markdown

def _markdown_table(headers, rows, align=None) -> list[str]:
    """align: '<' or '>' per column; by default the first column is text, the rest numbers."""
    align = align or "<" + ">" * (len(headers) - 1)
    rule = ["---" if a == "<" else "---:" for a in align]
    return ["| " + " | ".join(r) + " |" for r in [headers, rule] + rows]


def markdown(report) -> str:
    env, gemm = report["environment"], report["gemm"]
    lines = [f"`{env['command']}` - {env['date'][:10]}, {env['cpu']}, {env['cores']} cores, "
             f"{env['threads']} threads, NumPy {env['numpy']} ({blas_summary(env)}), Numba "
             f"{env['numba']}, PyTorch {env['torch'] or 'not installed'}, {env['dtype']}. "
             f"GEMM limit: {gemm['float32']['gflops']:.0f} GF/s float32, "
             f"{gemm['float64']['gflops']:.0f} GF/s float64; memory bandwidth (triad) "
             f"{report['memory']['triad_gbs']:.1f} GB/s." +
             (f" {line}." if (line := environment_line(env)) else "") +
             (f" {line}." if (line := machine_line(env)) else ""), ""]
    rows = []
    for entry in report["cases"]:
        headers, case_rows = table(entry)
        rows += [[entry["name"]] + row for row in case_rows]
    if rows:
        lines += _markdown_table(["case"] + headers, rows, align="<<" + ">" * (len(headers) - 1))
    notes = sorted({r["note"] for c in report["cases"] for r in c["results"].values()
                    if "note" in r})
    lines += ["", *(f"\\* {note} (`--quick`)." for note in notes)] if notes else []
    if skipped := [f"{c['name']}: {line}." for c in report["cases"]
                   for line in unsupported_notes(c)]:
        lines += ["", "Not computed (the rows marked so above):", "",
                  *(f"- {line}" for line in skipped)]
    if shares := [[c["name"], b, text] for c in report["cases"] for b, text in conversions(c)]:
        lines += ["", "Layout conversions: the share of each pass's median time spent "
                      "converting to and from the blocked layouts (timed alone, in the same "
                      "turns)", ""] + _markdown_table(["case", "backend", "share"], shares,
                                                      align="<<<")
    if report.get("libraries_vs_ours"):
        lines += ["", "Libraries against ours, per case and pass (median ms; ours / library "
                      "below 1.00x: ours is faster)", ""]
        lines += _markdown_table(*summary_rows(report["libraries_vs_ours"]),
                                 align="<<<><>>")

    for section, key, title in MODEL_SECTIONS:
        entries = report[section]
        if entries:
            backends = list(dict.fromkeys(b for e in entries for b in e["results"]))
            model_rows = [[e["arch"]] + [
                f"{e['results'][b][key]['median'] * 1e3:.2f} "
                f"({ratio(e['results'][b]['time_vs_torch'])})" if b in e["results"] else "-"
                for b in backends] for e in entries]
            lines += [""] + _markdown_table([f"{title}, ms"] + backends, model_rows)

    for entry in report.get("breakdown", []):
        headers, rows = breakdown_rows(entry)
        lines += ["", f"{entry['arch']} training step, where the time goes (ms)", ""]
        lines += _markdown_table(headers, rows)
    if report.get("peak_memory"):
        lines += ["", "Peak resident memory of 20 convnet training steps, fresh process each",
                  ""] + _markdown_table(*memory_rows(report["peak_memory"]))

    shown = [t for t in report.get("targets", []) if t["met"] is not None
             or t.get("measured") is not None]
    if shown:
        lines += [""] + _markdown_table(
            ["target", "measured", "verdict", "note"],
            [[t["target"], measured(t), verdict(t, "**missed**"), t["note"]]
             for t in shown], align="<><<")
    if notes := unjudged(report.get("targets", [])):
        lines += ["", *(line[0].upper() + line[1:] + "." for line in notes)]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ CSV

CSV_FIELDS = ("case", "set", "kind", "batch", "backend", "group", "chose", "forward_ms",
              "backward_data_ms", "backward_weights_ms", "total_ms", "gflops", "peak_fraction",
              "speedup_vs_naive", "time_vs_torch", "error_y", "error_dx", "error_dw",
              "normwise_error_y", "normwise_error_dx", "normwise_error_dw",
              "workspace_bytes", "flops_per_byte", "first_call_seconds",
              "conversion_share_forward", "conversion_share_backward_data",
              "conversion_share_backward_weights", "note", "unsupported")


def csv_text(report) -> str:
    """One row per case and backend, then one per architecture and backend for the training
    step and the evaluation (kind train_step / evaluate, their time in total_ms). A backend
    that does not compute a case gets a row with its reason in `unsupported`."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for case in report["cases"]:
        for backend, r in case["results"].items():
            row = dict(case=case["name"], set=case.get("set"), kind=case["kind"],
                       batch=case.get("batch"), backend=backend, **r,
                       group="library" if r.get("library") else "ours")
            for name in ("forward", "backward_data", "backward_weights"):
                row[f"{name}_ms"] = r[name]["median"] * 1e3 if name in r else \
                    NOT_COMPUTED if name in r.get("not_computed", ()) else None
            row["total_ms"] = None if r["total_seconds"] is None else r["total_seconds"] * 1e3
            row.update({f"error_{k}": v for k, v in (r.get("error") or {}).items()})
            row.update({f"conversion_share_{k}": v
                        for k, v in (r.get("conversion_share") or {}).items()})
            row.update({f"normwise_error_{k}": v
                        for k, v in (r.get("error_normwise") or {}).items()})
            writer.writerow(row)
        for backend, reason in case.get("unsupported", {}).items():
            writer.writerow(dict(case=case["name"], set=case.get("set"), kind=case["kind"],
                                 batch=case.get("batch"), backend=backend, unsupported=reason))
    for section, key, _ in MODEL_SECTIONS:
        for entry in report[section]:
            for backend, r in entry["results"].items():
                writer.writerow(dict(case=entry["name"], set="models", kind=key,
                                     batch=entry.get("batch"), backend=backend,
                                     total_ms=r[key]["median"] * 1e3,
                                     time_vs_torch=r["time_vs_torch"]))
    return out.getvalue()
