"""`python -m kernels merge OUT.json SHARD.json...`: join the --json files of a sharded
`bench` or `map` run (`--shard i/n`, kernels.bench.shards) into one report of the whole run.

    python -m kernels merge map.json map-1.json map-2.json
    python -m kernels merge --partial bench.json bench-1.json bench-3.json   # shard 2 lost

The shards must have been measured alike: the same kind (bench or map), the same shard count
and selection of units, the same backends and the same `settings` (schema, CPU model, cores,
threads, dtype, batch, --quick, repeats, sections; the map's axes, libraries and PyTorch),
and, when a report carries it, the same machine fingerprint (`environment.machine.id`).
Otherwise, or when two files are the same shard or share a unit, nothing is written and the
exit code is 1, with every difference listed.

A unit that no shard measured (a shard not given, a node that died) is named, and the merge
is refused with exit code 1: a merge that silently lacks cases would read as a whole run,
and its targets and map cells would just be absent. `--partial` writes it anyway, marked
`merged.partial: true` with the `merged.missing` units listed, so what came back can be read
while the lost shard runs again (merge the full set then).

The merged file has the layout of an unsharded run's JSON (its entries in the unsharded
order), so `bench --compare`, the charts and the schema read it as one. Figures that every
shard measured for itself - the GEMM rate, the memory bandwidth, the load of each section,
the environment - are the lowest-numbered shard's at the top level and each shard's own under
`merged.shards[]`; `% GEMM` stays the one each case was measured against. A bench merge
recomputes `libraries_vs_ours` and the targets from the merged cases.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..support.command_line import Parser
from .judging.machines import machine_id
from .output.outputs import output_problem, write_json
from .shards import unit_of_point

PROG = "python -m kernels merge"
REFUSED = 1


class NotMergeable(Exception):
    """The shards do not make one run: args are the problems, one line each."""


def kind(report: dict) -> str:
    return "map" if "panels" in report else "bench"


def _fingerprint(report: dict) -> dict:
    """Everything that must be equal across the shards of one run, flattened."""
    shard = report["shard"]
    items = {"kind": kind(report), "shard count": shard["count"],
             "backends": shard.get("backends")}
    items.update({f"settings.{k}": v for k, v in (report.get("settings") or {}).items()})
    if kind(report) == "map":
        items.update({k: report.get(k) for k in ("batch", "kernels_axis", "channels_axis",
                                                 "sizes_axis")})
    return items


def problems(named: dict[str, dict]) -> list[str]:
    """Why the shards (file name -> report) cannot be merged at all: every difference from
    the first one, a shard given twice, a unit in two shards."""
    found = []
    (first_name, first), *others = named.items()
    reference = _fingerprint(first)
    ids = {name: machine_id(r) for name, r in named.items()}
    for name, report in others:
        mine = _fingerprint(report)
        differ = [k for k in sorted(set(reference) | set(mine))
                  if reference.get(k) != mine.get(k)]
        if differ:
            found.append(f"{name} was not measured like {first_name}: " + "; ".join(
                f"{k} {mine.get(k)!r} (not {reference.get(k)!r})" for k in differ))
        if report["shard"]["of"] != first["shard"]["of"]:
            found.append(f"{name} splits another selection than {first_name} (the whole "
                         "run's units differ: another --cases, --case, --quick or axes)")
    if any(ids.values()) and len(set(ids.values())) > 1:
        found.append("the shards come from different machines (environment.machine.id): " +
                     ", ".join(f"{name} {ident}" for name, ident in ids.items()))
    by_index = {}
    for name, report in named.items():
        by_index.setdefault(report["shard"]["index"], []).append(name)
    for index, names in sorted(by_index.items()):
        if len(names) > 1:
            found.append(f"{' and '.join(names)} are all shard {index}: give each shard once")
    owner = {}
    for name, report in named.items():
        for unit in report["shard"]["units"]:
            if unit in owner and owner[unit] != name:
                found.append(f"{unit} is in both {owner[unit]} and {name}")
            owner.setdefault(unit, name)
    return found


def missing(reports) -> list[str]:
    """The units of the whole run that no shard measured, in the run's order."""
    done = {u for r in reports for u in r["shard"]["units"]}
    return [u for u in reports[0]["shard"]["of"] if u not in done]


def _order(units):
    rank = {u: i for i, u in enumerate(units)}
    return lambda unit: rank.get(unit, len(rank))


def _merged_key(named, lost):
    reports = list(named.values())
    count = reports[0]["shard"]["count"]
    given = {r["shard"]["index"] for r in reports}
    return dict(count=count, partial=bool(lost), missing=lost,
                missing_shards=[i for i in range(1, count + 1) if i not in given],
                shards=[dict(index=r["shard"]["index"], file=name, units=r["shard"]["units"],
                             environment=r.get("environment"),
                             **{k: r[k] for k in ("gemm", "memory", "sections") if k in r})
                        for name, r in sorted(named.items(),
                                              key=lambda item: item[1]["shard"]["index"])])


def merge_bench(reports: list[dict]) -> dict:
    rank = _order(reports[0]["shard"]["of"])
    merged = {k: v for k, v in reports[0].items() if k != "shard"}

    def joined(key, unit):
        return sorted((e for r in reports for e in r.get(key) or []),
                      key=lambda e: rank(unit(e)))
    merged["cases"] = joined("cases", lambda e: f"case {e['name']}")
    merged["workspace_cap"] = joined("workspace_cap", lambda e: f"case {e['case']}")
    for key in ("train_steps", "evaluate", "breakdown"):
        merged[key] = joined(key, lambda e: f"model {e['arch']}")
    merged["peak_memory"] = next((r["peak_memory"] for r in reports if r.get("peak_memory")),
                                 None)
    from .measuring import libraries
    from .judging import targets

    merged["libraries_vs_ours"] = libraries.summary(merged)
    if "targets" in merged:
        merged["targets"] = targets.check(merged)
    return merged


def merge_map(reports: list[dict]) -> dict:
    rank = _order(reports[0]["shard"]["of"])
    merged = {k: v for k, v in reports[0].items() if k != "shard"}
    merged["panels"] = {panel: sorted((p for r in reports for p in r["panels"].get(panel, [])),
                                      key=lambda p, panel=panel: rank(unit_of_point(panel, p)))
                        for panel in reports[0]["panels"]}
    merged["cases"] = sorted((c for r in reports for c in r.get("cases") or []),
                             key=lambda c: rank(f"case {c['case']}"))
    return merged


def merge(named: dict[str, dict], partial: bool = False) -> dict:
    """The merged report of the shards (file name -> report, ordered as given), or
    NotMergeable with every problem."""
    if found := problems(named):
        raise NotMergeable(*found)
    reports = sorted(named.values(), key=lambda r: r["shard"]["index"])
    lost = missing(reports)
    if lost and not partial:
        absent = _merged_key(named, lost)["missing_shards"]
        raise NotMergeable(
            f"{len(lost)} of {len(reports[0]['shard']['of'])} units were measured by no "
            f"shard (shard{'s' if len(absent) != 1 else ''} "
            f"{', '.join(map(str, absent)) or '-'} of {reports[0]['shard']['count']} not "
            f"given): {', '.join(lost)}; run them and merge again, or --partial to write "
            "what there is, marked partial")
    result = (merge_map if kind(reports[0]) == "map" else merge_bench)(reports)
    result["merged"] = _merged_key(named, lost)
    return result


def _load(path: str) -> dict:
    """A shard's JSON, or ValueError saying in one line why the file is not one."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(report, dict) or not isinstance(report.get("shard"), dict):
        raise ValueError(f"{path} is not a shard's JSON (no `shard` key: write the shards "
                         "with bench or map --shard i/n --json FILE)")
    return report


def main(argv=None) -> int:
    argv = list(sys.argv[2:] if argv is None else argv)
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("out", metavar="OUT.json", help="the merged report")
    parser.add_argument("shards", nargs="+", metavar="SHARD.json",
                        help="the --json files of the shards, in any order")
    parser.add_argument("--partial", action="store_true",
                        help="write the merge even when some units were measured by no shard, "
                             "marked merged.partial with merged.missing listed")
    args = parser.parse_args(argv)
    if problem := output_problem("OUT.json", args.out):
        parser.error(problem)
    for path in args.shards:
        if Path(path).exists() and Path(args.out).exists() and os.path.samefile(path, args.out):
            parser.error(f"OUT.json {args.out} is also a shard: name the merged file first, "
                         "then the shards")
    named = {}
    for path in args.shards:
        if path in named:
            parser.error(f"{path} is given twice")
        try:
            named[path] = _load(path)
        except ValueError as error:
            parser.error(str(error))
    try:
        result = merge(named, partial=args.partial)
    except NotMergeable as refused:
        print(f"{PROG}: not merged, nothing written:", file=sys.stderr)
        for line in refused.args:
            print(f"  {line}", file=sys.stderr)
        return REFUSED
    write_json(args.out, result)
    info = result["merged"]
    note = f" (PARTIAL: {len(info['missing'])} units missing: {', '.join(info['missing'])})" \
        if info["partial"] else ""
    print(f"wrote {args.out}: {kind(result)}, {len(named)} of {info['count']} shards{note}")
    return 0
