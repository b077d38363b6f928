"""A report as Markdown (`--markdown`): the README's figures are pasted from a file the
report wrote, not typed by hand. The same tables as the console (kernels.bench.output.render)."""

from __future__ import annotations

from ..judging import columns
from ..judging.columns import ratio, unsupported_notes
from ..measuring.libraries import environment_line, summary_rows
from .render import (LOAD_TITLE, MODEL_SECTIONS, blas_summary, breakdown_rows, conversions,
                     load_rows, machine_line, measured, memory_rows, unjudged, verdict)


def table(headers, rows, align=None) -> list[str]:
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
        headers, case_rows = columns.table(entry)
        rows += [[entry["name"]] + row for row in case_rows]
    if rows:
        lines += table(["case"] + headers, rows, align="<<" + ">" * (len(headers) - 1))
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
                      "turns)", ""] + table(["case", "backend", "share"], shares,
                                                      align="<<<")
    if report.get("libraries_vs_ours"):
        lines += ["", "Libraries against ours, per case and pass (median ms; ours / library "
                      "below 1.00x: ours is faster)", ""]
        lines += table(*summary_rows(report["libraries_vs_ours"]),
                                 align="<<<><>>")

    for section, key, title in MODEL_SECTIONS:
        entries = report[section]
        if entries:
            backends = list(dict.fromkeys(b for e in entries for b in e["results"]))
            model_rows = [[e["arch"]] + [
                f"{e['results'][b][key]['median'] * 1e3:.2f} "
                f"({ratio(e['results'][b]['time_vs_torch'])})" if b in e["results"] else "-"
                for b in backends] for e in entries]
            lines += [""] + table([f"{title}, ms"] + backends, model_rows)

    for entry in report.get("breakdown", []):
        headers, rows = breakdown_rows(entry)
        lines += ["", f"{entry['arch']} training step, where the time goes (ms)", ""]
        lines += table(headers, rows)
    if report.get("peak_memory"):
        lines += ["", "Peak resident memory of 20 convnet training steps, fresh process each",
                  ""] + table(*memory_rows(report["peak_memory"]))

    if report.get("sections"):
        headers, rows = load_rows(report["sections"])
        lines += ["", LOAD_TITLE[0].upper() + LOAD_TITLE[1:], ""] + table(
            headers[:-1] + ["busy"], rows, align="<>>>>><")
    shown = [t for t in report.get("targets", []) if t["met"] is not None
             or t.get("measured") is not None]
    if shown:
        lines += [""] + table(
            ["target", "measured", "verdict", "note"],
            [[t["target"], measured(t), verdict(t, "**missed**"), t["note"]]
             for t in shown], align="<><<")
    if notes := unjudged(report.get("targets", [])):
        lines += ["", *(line[0].upper() + line[1:] + "." for line in notes)]
    return "\n".join(lines) + "\n"
