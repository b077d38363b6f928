"""The speed targets, checked against one report of `python -m kernels bench`.

Every target is a ratio of two numbers measured in the same process and run, never an
absolute time. "Best" is the fastest single backend (auto excluded: it only dispatches).
Each row says what was measured, the limit, and whether it is met; a missing measurement
(e.g. no PyTorch, or a section not run) is reported as such, not as a pass.
"""

from __future__ import annotations

from .cases import CONV_CASES, POOL_CASES

ALGORITHMS = ("naive", "strided", "im2col", "numba")


def _total(r):
    return r["forward"]["median"] + r["backward"]["median"]


def _best(results, key=_total):
    timed = {b: key(r) for b, r in results.items() if b in ALGORITHMS and b != "naive"}
    if not timed:
        return None, None
    name = min(timed, key=timed.get)
    return name, timed[name]


def _row(target, measured, limit, met, note="", unit="x"):
    return dict(target=target, measured=measured, limit=limit, unit=unit,
                met=None if met is None else bool(met), note=note)


def check(report):
    """One row per target, in the order of the project's speed issue."""
    cases = {c["name"]: c for c in report["cases"]}
    rows = []

    for name in (n for n, c in CONV_CASES.items() if c.mnist):
        case = cases.get(name)
        if case is None or "torch" not in case["results"]:
            rows.append(_row(f"{name} fwd+bwd <= 1.5x PyTorch", None, 1.5, None, "not measured"))
            continue
        best, seconds = _best(case["results"])
        if best is None:
            rows.append(_row(f"{name} fwd+bwd <= 1.5x PyTorch", None, 1.5, None,
                             "no algorithm backend timed"))
            continue
        ratio = seconds / _total(case["results"]["torch"])
        rows.append(_row(f"{name} fwd+bwd <= 1.5x PyTorch (stretch 1.0x)", ratio, 1.5,
                         ratio <= 1.5, f"best: {best}"))

    for entry, label in [(e, "training step") for e in report["train_steps"]] + \
                        [(e, "evaluation of 10k images") for e in report["evaluate"]]:
        if entry["arch"] != "convnet":
            continue
        key = "step" if label == "training step" else "evaluate"
        results = entry["results"]
        if "torch" not in results:
            rows.append(_row(f"convnet {label} <= 1.5x PyTorch", None, 1.5, None, "no PyTorch"))
            continue
        best, seconds = _best(results, key=lambda r: r[key]["median"])
        candidates = {b: r[key]["median"] for b, r in results.items() if b != "torch"}
        if not candidates:
            continue
        fastest = min(candidates, key=candidates.get)
        ratio = candidates[fastest] / results["torch"][key]["median"]
        rows.append(_row(f"convnet {label} <= 1.5x PyTorch (stretch 1.0x)", ratio, 1.5,
                         ratio <= 1.5, f"fastest: {fastest}"))
        if key == "step" and "auto" in results and best is not None:
            ratio = results["auto"]["step"]["median"] / seconds
            rows.append(_row("auto training step <= 1.1x the best single backend", ratio, 1.1,
                             ratio <= 1.1, f"best single: {best}"))

    conv2 = cases.get("convnet.conv2")
    if conv2 is not None:
        best, _ = _best(conv2["results"], key=lambda r: r["forward"]["median"])
        if best:
            r = conv2["results"][best]
            share = r["forward_gflops"] / report["gemm"][report["environment"]["dtype"]]["gflops"]
            rows.append(_row("convnet.conv2 forward >= 50 % of the GEMM rate", share, 0.5,
                             share >= 0.5, f"{best}: {r['forward_gflops']:.1f} GF/s", unit="%"))
            best_b, _ = _best(conv2["results"], key=lambda r: r["backward"]["median"])
            ratio = conv2["results"][best_b]["backward"]["median"] / r["forward"]["median"]
            rows.append(_row("convnet.conv2 backward <= 2.5x its forward", ratio, 2.5,
                             ratio <= 2.5, f"backward {best_b} / forward {best}"))
        if "naive" in conv2["results"] and best:
            best_b, seconds = _best(conv2["results"], key=lambda r: r["backward"]["median"])
            naive = conv2["results"]["naive"]
            ratio = naive["backward"]["median"] / seconds
            rows.append(_row("ladder: best >= 1000x naive on convnet.conv2 backward", ratio,
                             1000, ratio >= 1000, naive.get("note", "") or f"best: {best_b}"))

    for name in [n for n, c in CONV_CASES.items() if c.mnist] + list(POOL_CASES):
        case = cases.get(name)
        if case is None or "numba" not in case["results"]:
            continue
        best, seconds = _best(case["results"])  # numba itself is timed, so never None
        ratio = _total(case["results"]["numba"]) / seconds
        rows.append(_row(f"numba within 2x of the best on {name}", ratio, 2.0, ratio <= 2.0,
                         f"best: {best}"))

    for name in ("convnet.pool1", "convnet.pool2"):
        case = cases.get(name)
        if case is None or "torch" not in case["results"]:
            continue
        best, seconds = _best(case["results"])
        if best is None:
            continue
        ratio = seconds / _total(case["results"]["torch"])
        rows.append(_row(f"{name} (2x2 max pool) fwd+bwd <= 1.5x PyTorch", ratio, 1.5,
                         ratio <= 1.5, f"best: {best}"))

    for cap in report.get("workspace_cap", []):
        chunks = cap["chunks"]
        workspace = cap["peak_bytes"] - cap["padded_bytes"]
        note = (f"workspace {workspace / 2**20:.1f} MiB (+ {cap['padded_bytes'] / 2**20:.1f} "
                f"MiB padded x, dx), {chunks} chunk" + "s" * (chunks > 1))
        under = workspace <= cap["cap_bytes"]
        if chunks == 1:
            note += ": the cap changes nothing"
        rows.append(_row(f"im2col under a {cap['cap_bytes'] / 2**20:.0f} MiB cap on "
                         f"{cap['case']}: workspace under the cap, slowdown <= 1.1x",
                         cap["slowdown"], 1.1,
                         under and (cap["slowdown"] is None or cap["slowdown"] <= 1.1), note))
    return rows


def format_measured(row) -> str:
    if row["measured"] is None:
        return "-"
    return f"{row['measured']:.1%}" if row["unit"] == "%" else f"{row['measured']:,.2f}x"


def print_rows(rows):
    print("targets (ratios measured in this run)")
    for r in rows:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[r["met"]]
        measured = format_measured(r)
        print(f"  {verdict:6} {measured:>10}  {r['target']}" + (f"  ({r['note']})" if r["note"] else ""))
    print()
