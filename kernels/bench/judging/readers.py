"""How each speed target reads its figure from a report: small functions that return a
reader, report -> (value, note), or (None, why not) when the figure was not measured.

"Best" is the fastest registered algorithm (`kernels.available(ALGORITHM)`): not the
reference, not a dispatcher, not PyTorch nor any other library (role LIBRARY).
"""

from __future__ import annotations

from ... import ALGORITHM, DISPATCHER, REFERENCE, Pass, available
from ...cases.custom import USER_SET
from ...support.sizes import WORKSPACE_CAP
from .columns import count

NOT_MEASURED = (None, "not measured")


def forward(result) -> float:
    return result[Pass.FORWARD.key]["median"]


def backward(result) -> float:
    """Backward-data plus, for a convolution, backward-weights."""
    return result[Pass.BACKWARD_DATA.key]["median"] + \
        result.get(Pass.BACKWARD_WEIGHTS.key, {"median": 0.0})["median"]


def total(result) -> float:
    """Forward + backward seconds of one backend on one case (all its passes)."""
    return forward(result) + backward(result)


def _best(results, seconds=total, among=None):
    """(name, seconds) of the fastest algorithm (of `among`, if given), or (None, None)."""
    timed = {b: seconds(r) for b, r in results.items()
             if b in available(ALGORITHM) and (among is None or b in among)}
    if not timed:
        return None, None
    name = min(timed, key=timed.get)
    return name, timed[name]


def _cases(report, name=None, kind=None, case_set=None):
    """The report's cases that match; a user's own cases (--case, --cases-file) are shown,
    never judged: the targets speak of the named sets."""
    return [c for c in report.get("cases", []) if c.get("set") != USER_SET
            and (name is None or c["name"] == name)
            and (kind is None or c["kind"] == kind) and (case_set is None or
                                                        c.get("set") == case_set)]


def _results(report, name, *needed):
    """A case's results, if they hold every backend in `needed`."""
    found = _cases(report, name)
    if not found or not all(b in found[0]["results"] for b in needed):
        return None
    return found[0]["results"]


def best_vs_torch(name, among=None):
    def read(report):
        results = _results(report, name, "torch")
        best, seconds = _best(results or {}, among=among)
        if best is None:
            return NOT_MEASURED
        return seconds / total(results["torch"]), f"best: {best}"
    return read


def worst_best_vs_torch(kind, case_set=None):
    """Over every case (of a set): the best algorithm's time over PyTorch's, the worst case."""
    def read(report):
        ratios = {}
        for case in _cases(report, kind=kind, case_set=case_set):
            best, seconds = _best(case["results"])
            if best is not None and "torch" in case["results"]:
                ratios[case["name"]] = (seconds / total(case["results"]["torch"]), best)
        if not ratios:
            return NOT_MEASURED
        worst = max(ratios, key=lambda n: ratios[n][0])
        return ratios[worst][0], f"worst: {worst} ({ratios[worst][1]}), " \
            f"{count(len(ratios), 'case')}"
    return read


def worst_backend_vs_best(backend, case_set=None, kind=None):
    """Over every case the backend computes: its time over the best algorithm's."""
    def read(report):
        ratios = {}
        for case in _cases(report, kind=kind, case_set=case_set):
            if backend in case["results"]:
                best, seconds = _best(case["results"])
                ratios[case["name"]] = (total(case["results"][backend]) / seconds, best)
        if not ratios:
            return NOT_MEASURED
        worst = max(ratios, key=lambda n: ratios[n][0])
        return ratios[worst][0], f"worst: {worst} (best {ratios[worst][1]}), " \
            f"{count(len(ratios), 'case')}"
    return read


def gemm_equivalent_rate(name):
    """The best algorithm's rate in direct-convolution FLOPs per second over the GEMM rate:
    above 1.0 no direct or GEMM method could be as fast."""
    def read(report):
        results = _results(report, name)
        best, _ = _best(results or {})
        if best is None or results[best].get("gflops") is None:
            return NOT_MEASURED
        rate = report["gemm"][report["environment"]["dtype"]]
        peak = rate.get("bracket_gflops", rate["gflops"])  # the higher of before and after
        return results[best]["gflops"] / peak, f"{best}: {results[best]['gflops']:.0f} GF/s"
    return read


def fastest_on_some_case(backend, case_set):
    """The backend's time over the best other algorithm's, on the case where that is least:
    at most 1.0 means it beats every other algorithm somewhere in the set."""
    def read(report):
        ratios = {}
        for case in _cases(report, kind="conv", case_set=case_set):
            results = case["results"]
            others = [b for b in results if b != backend]
            rival, seconds = _best(results, among=others)
            if backend in results and rival is not None:
                ratios[case["name"]] = (total(results[backend]) / seconds, rival)
        if not ratios:
            return NOT_MEASURED
        best = min(ratios, key=lambda n: ratios[n][0])
        won = sum(ratio < 1 for ratio, _ in ratios.values())
        return ratios[best][0], f"on {best} (vs {ratios[best][1]}); wins {won} of {len(ratios)}"
    return read


def worst_error_ratio(backend, against="im2col", key="error"):
    """Over every case both computed: the largest of the backend's error of y, dx, dw over
    `against`'s error of the same quantity (errors in units of eps * sum|terms|,
    componentwise, or normwise with key="error_normwise")."""
    def read(report):
        worst = None
        for case in _cases(report, kind="conv"):
            mine = case["results"].get(backend, {}).get(key)
            theirs = case["results"].get(against, {}).get(key)
            for q in ("y", "dx", "dw") if mine and theirs else ():
                ratio = mine[q] / theirs[q] if theirs[q] > 0 else \
                    1.0 if mine[q] == 0 else float("inf")  # both exact: no worse
                if worst is None or ratio > worst[0]:
                    worst = (ratio, f"{case['name']} {q}: {mine[q]:.3g} vs {theirs[q]:.3g}")
        return worst if worst is not None else NOT_MEASURED
    return read


def worst_workspace(backend, case_set, cap=WORKSPACE_CAP):
    """The backend's largest workspace over a set's conv cases, as a share of `cap`."""
    def read(report):
        sizes = {c["name"]: c["results"][backend]["workspace_bytes"]
                 for c in _cases(report, kind="conv", case_set=case_set)
                 if c["results"].get(backend, {}).get("workspace_bytes") is not None}
        if not sizes:
            return NOT_MEASURED
        worst = max(sizes, key=sizes.get)
        return sizes[worst] / cap, f"{sizes[worst] / 2**20:.1f} MiB on {worst}"
    return read


def best_backward_over_reference(name):
    def read(report):
        reference = available(REFERENCE)[0]
        results = _results(report, name, reference)
        best, seconds = _best(results or {}, backward)
        if best is None:
            return NOT_MEASURED
        slow = results[reference]
        return backward(slow) / seconds, slow.get("note") or f"best: {best}"
    return read


def _model_results(report, section, arch):
    entry = next((e for e in report.get(section, []) if e["arch"] == arch), None)
    return None if entry is None else entry["results"]


def model_vs_torch(section, arch, key, backend=None):
    """The backend's (default: our fastest) time over PyTorch's for a whole-model figure."""
    def read(report):
        results = _model_results(report, section, arch) or {}
        ours = {b: r[key]["median"] for b, r in results.items()
                if b != "torch" and (backend is None or b == backend)}
        if not ours or "torch" not in results:
            return NOT_MEASURED
        fastest = min(ours, key=ours.get)
        return ours[fastest] / results["torch"][key]["median"], f"{fastest}"
    return read


def dispatcher_step_vs_best(arch):
    def read(report):
        results = _model_results(report, "train_steps", arch) or {}
        dispatcher = next((b for b in available(DISPATCHER) if b in results), None)
        best, seconds = _best(results, lambda r: r["step"]["median"])
        if dispatcher is None or best is None:
            return NOT_MEASURED
        return results[dispatcher]["step"]["median"] / seconds, \
            f"{dispatcher} / best single: {best}"
    return read


def first_layer_dx_saving(arch):
    """Step time computing the first conv's dx over the step that skips it (dispatcher;
    the two measured alternately)."""
    def read(report):
        results = _model_results(report, "train_steps", arch) or {}
        for backend, r in results.items():
            if "first_layer_dx" in r:
                computed, skipped = (r["first_layer_dx"][k]["median"]
                                     for k in ("computed", "skipped"))
                return (computed / skipped, f"{backend}: {computed * 1e3:.2f} ms with, "
                                            f"{skipped * 1e3:.2f} ms without")
        return NOT_MEASURED
    return read


def worst_memory_vs_torch():
    def read(report):
        entry = report.get("peak_memory")
        if not entry or "torch" not in entry["results"]:
            return NOT_MEASURED
        ours = {b: v for b, v in entry["results"].items() if b != "torch"}
        worst, torch = max(ours, key=ours.get), entry["results"]["torch"]
        return ours[worst] / torch, \
            f"{worst}: {ours[worst] / 2**20:.0f} MiB, PyTorch {torch / 2**20:.0f} MiB"
    return read


def _cap(report, backend, name):
    return next((c for c in report.get("workspace_cap", [])
                 if c["case"] == name and c["backend"] == backend), None)


def capped_slowdown(backend, name):
    def read(report):
        cap = _cap(report, backend, name)
        if cap is None:
            return NOT_MEASURED
        if cap["slowdown"] is None:
            return None, "one chunk: the cap changes nothing"
        return cap["slowdown"], f"{cap['chunks']} chunks against none"
    return read
