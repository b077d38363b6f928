"""Other projects' convolutions in a report: the frameworks (torch, jax, tensorflow,
onnxruntime) and plug-ins, every backend of role LIBRARY.

They are timed like our backends, taking turns with them, but kept apart: a library is never
the "best of ours" (readers count only our algorithms), never judged by our targets, and is
shown in its own group. Each library result carries `library: True`, so a report read back
later (charts, --compare) needs no registry to tell the groups apart. A pass a backend does
not compute (kernels.passes, e.g. onnxruntime: forward only) is listed in `not_computed` and
shown as such, never as a zero.

`summary` gives, per case and pass, the fastest library, our fastest algorithm and their
ratio: the comparison the README quotes.
"""

from __future__ import annotations

from ... import (ALGORITHM, BACKWARD_WEIGHTS, LIBRARY, Pass, capabilities, get_backend, origin,
                passes, role)
from ...vocabulary import KEYS

TOTAL = "total"  # the summary's row of the passes together, beside the passes' keys
NOT_COMPUTED = "not computed"
HEADING = "libraries (not ours: never best of ours, never judged by our targets)"


def is_library(name: str) -> bool:
    return role(name) == LIBRARY


def not_computed(name: str, kind: str) -> list[str]:
    """The result keys of the passes `name` does not compute on a case of this kind."""
    computed = passes(name)
    missing = [p for p in Pass if p not in computed]
    if kind == "pool":  # a pool's backward is its backward-data pass; no weights
        missing = [p for p in missing if p != BACKWARD_WEIGHTS]
    return [p.key for p in missing]


def load(names) -> tuple[dict, dict]:
    """Each library of `names` imported now, after the threads are pinned (a framework sizes
    its pools from runtime.pinned_threads when it starts): ({name: backend}, {name: why it
    cannot be used}) - a framework is listed when its package is installed, and only loading
    it can tell that it works."""
    loaded, problems = {}, {}
    for name in names:
        if is_library(name):
            try:
                loaded[name] = get_backend(name)
            except ValueError as error:
                problems[name] = str(error)
    return loaded, problems


def environment(names, threads: int) -> tuple[list[dict], dict]:
    """Per library: where it came from, the passes it computes, the versions of what it
    wraps (its `versions()`, {package: version}) and the threads it reports using (its
    `threads()`, or the "threads" item of its versions), next to the pinned count, so that
    a runtime that could not be pinned shows. Also {name: problem} of those that failed to
    load (see load)."""
    found = []
    loaded, problems = load(names)
    for name, backend in loaded.items():
        can = capabilities(backend)
        reported = can.threads() if can.threads is not None else None
        try:
            versions = dict(can.versions() if can.versions is not None else {})
            reported = versions.pop("threads", reported) if reported is None else reported
            versions = [dict(package=str(k), version=str(v)) for k, v in versions.items()]
        except Exception as error:  # a plug-in's report must not end the run
            versions = f"versions() failed: {type(error).__name__}: {error}"
        found.append(dict(name=name, origin=origin(name), passes=list(passes(name)),
                          versions=versions, pinned_threads=threads,
                          threads=None if reported is None else str(reported)))
    return found, problems


def start(names, threads: int) -> tuple[list[dict], list[str]]:
    """The libraries of `names` loaded (after the threads are pinned): their environment,
    and `names` without those that fail to load, each left out with a one-line note."""
    found, problems = environment(names, threads)
    for name, problem in problems.items():  # listed as installed, but it does not load
        print(f"{name} left out: {problem}")
    return found, [n for n in names if n not in problems]


def mark(entry) -> None:
    """Put the libraries after ours in a case's results and flag them."""
    results = entry["results"]
    ours = {b: r for b, r in results.items() if not r.get("library")}
    theirs = {b: r for b, r in results.items() if r.get("library")}
    entry["results"] = {**ours, **theirs}


def summary(report) -> list[dict]:
    """Per case and pass where both groups have a time: the fastest library, our fastest
    algorithm, and ours over theirs (below 1.0: ours is faster)."""
    rows = []
    for case in report.get("cases", []):
        results = case["results"]
        for key in (*KEYS, TOTAL):
            ours = _fastest(results, key, lambda b, r: not r.get("library") and
                            r.get("role", ALGORITHM) == ALGORITHM)
            theirs = _fastest(results, key, lambda b, r: r.get("library"))
            if ours is None or theirs is None:
                continue
            rows.append(dict(case=case["name"], set=case.get("set"), **{"pass": key},
                             library=theirs[0], library_seconds=theirs[1],
                             ours=ours[0], ours_seconds=ours[1],
                             ours_over_library=ours[1] / theirs[1]))
    return rows


def _seconds(result, key):
    if key == TOTAL:
        return result.get("total_seconds")
    return result[key]["median"] if key in result else None


def _fastest(results, key, wanted):
    timed = {b: s for b, r in results.items() if wanted(b, r)
             and (s := _seconds(r, key)) is not None}
    if not timed:
        return None
    best = min(timed, key=timed.get)
    return best, timed[best]


def summary_rows(rows):
    """Headers and text rows of the summary, for the console and Markdown."""
    return ["case", "pass", "fastest library", "ms", "our fastest", "ms", "ours / library"], [
        [r["case"], r["pass"] if r["pass"] == TOTAL else Pass.from_key(r["pass"]).label,
         r["library"],
         f"{r['library_seconds'] * 1e3:.2f}", r["ours"], f"{r['ours_seconds'] * 1e3:.2f}",
         f"{r['ours_over_library']:.2f}x"] for r in rows]


def environment_line(env) -> str | None:
    """The libraries of a report's environment in one line, or None without any."""
    found = env.get("libraries") or []
    if not found:
        return None

    def one(lib):
        versions = lib["versions"] if isinstance(lib["versions"], str) else \
            ", ".join(f"{v['package']} {v['version']}" for v in lib["versions"]) or "no versions"
        threads = f"threads {lib['threads']}, pinned {lib['pinned_threads']}" \
            if lib["threads"] not in (None, str(lib["pinned_threads"])) else \
            f"{lib['pinned_threads']} threads"
        computed = "" if len(lib["passes"]) == 3 else f"; {'/'.join(lib['passes'])} only"
        return f"{lib['name']} ({versions}; {threads}{computed})"
    return "Libraries: " + "; ".join(one(lib) for lib in found)
