"""Markdown tables of a `python -m kernels bench` report (`--markdown PATH`), so the figures
in the README are pasted from a file the report wrote, not typed by hand."""

from __future__ import annotations

from .targets import format_measured


def _ms(stats):
    return f"{stats['median'] * 1e3:.2f}"


def ratio(value) -> str:
    return "-" if value is None else f"{value:,.2f}x"


def size(n) -> str:
    """Bytes in the largest unit that keeps the number >= 1."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def blas_summary(env) -> str:
    if isinstance(env["blas"], str):  # threadpoolctl missing: the reason
        return env["blas"]
    return ", ".join(f"{b['internal_api']} {b['version']} ({b['architecture']}, "
                     f"{b['num_threads']} threads)" for b in env["blas"])


def markdown(report) -> str:
    env, gemm = report["environment"], report["gemm"]
    blas = blas_summary(env)
    lines = [f"`{env['command']}` - {env['date'][:10]}, {env['cpu']}, {env['cores']} cores, "
             f"{env['threads']} threads, NumPy {env['numpy']} ({blas}), Numba {env['numba']}, "
             f"PyTorch {env['torch'] or 'not installed'}, {env['dtype']}. GEMM limit: "
             f"{gemm['float32']['gflops']:.0f} GF/s float32, {gemm['float64']['gflops']:.0f} "
             "GF/s float64.", ""]

    lines += ["| case | backend | forward ms | backward ms | GF/s | % GEMM | x naive | x PyTorch "
              "| workspace |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for case in report["cases"]:
        for backend, r in case["results"].items():
            gf = f"{r['gflops']:.1f}" if "gflops" in r else "-"
            share = f"{r['peak_fraction']:.0%}" if "peak_fraction" in r else "-"
            name = backend + (f" -> {r['chose']}" if "chose" in r else "") + \
                (" *" if "note" in r else "")
            lines.append(f"| {case['name']} | {name} | {_ms(r['forward'])} | "
                         f"{_ms(r['backward'])} | {gf} | {share} | {ratio(r['speedup_vs_naive'])} "
                         f"| {ratio(r['time_vs_torch'])} | {size(r.get('workspace_bytes'))} |")
    if any("note" in r for c in report["cases"] for r in c["results"].values()):
        lines += ["", "\\* naive measured on 4 images and scaled to the batch (`--quick`)."]

    for title, entries, key in (("training step (batch 64, Adam)", report["train_steps"], "step"),
                                ("evaluation of 10,000 images", report["evaluate"], "evaluate")):
        if entries:
            backends = list(dict.fromkeys(b for e in entries for b in e["results"]))
            lines += ["", f"| {title}, ms | " + " | ".join(backends) + " |",
                      "| --- |" + " ---: |" * len(backends)]
            for e in entries:
                cells = [f"{_ms(e['results'][b][key])} ({ratio(e['results'][b]['time_vs_torch'])})"
                         if b in e["results"] else "-" for b in backends]
                lines.append(f"| {e['arch']} | " + " | ".join(cells) + " |")

    if report.get("targets"):
        lines += ["", "| target | measured | verdict | note |", "| --- | ---: | --- | --- |"]
        for t in report["targets"]:
            measured = format_measured(t)
            verdict = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
            lines.append(f"| {t['target']} | {measured} | {verdict} | {t['note']} |")
    return "\n".join(lines) + "\n"
