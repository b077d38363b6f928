"""docs/report-json.md documents every key a report writes: checked on a fresh report (all
sections, PyTorch when installed, an extrapolated naive row, a backend that does not compute
a layer) and on the committed docs/bench.json the README's figures come from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import kernels
from test_bench.test_report import run_report

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "report-json.md").read_text()
DOCUMENTED = set(re.findall(r"`([a-z_0-9]+(?:\[\])?(?:\.[^`\s]+)*)`", DOC))
COMPONENT = re.compile(r"^breakdown\[\]\.results\.<backend>\.")


def key_paths(obj, path=""):
    """Every leaf path, lists as [] and backend names under `results` or `unsupported` as
    <backend>, the report's sections under `sections` as <section>."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            parent = path.rsplit(".", 1)[-1]
            general = "<backend>" if parent in ("results", "unsupported") else \
                "<section>" if path == "sections" else key
            yield from key_paths(value, f"{path}.{general}" if path else general)
    elif isinstance(obj, list) and obj and all(isinstance(e, dict) for e in obj):
        for element in obj:
            yield from key_paths(element, path + "[]")
    else:
        yield path + "[]" if isinstance(obj, list) else path


def undocumented(report):
    missing = set()
    for path in set(key_paths(report)):
        if COMPONENT.match(path):  # components are listed in one row, by name
            documented = f"`{path.rsplit('.', 1)[-1]}`" in DOC
        else:
            # an empty list of objects (libraries_vs_ours[] with no library installed) shows
            # no keys: it is documented when the doc lists the keys of its elements
            documented = path in DOCUMENTED or (
                path.endswith("[]") and any(d.startswith(path + ".") for d in DOCUMENTED))
        if not documented:
            missing.add(path)
    return sorted(missing)


def test_the_key_paths_of_a_small_structure():
    report = {"cases": [{"results": {"im2col": {"forward": {"median": 1}}},
                         "unsupported": {"fft": "why"}}], "environment": {"torch": None}}
    assert sorted(key_paths(report)) == ["cases[].results.<backend>.forward.median",
                                         "cases[].unsupported.<backend>",
                                         "environment.torch"]
    assert undocumented({"cases": [{"bogus": 1}]}) == ["cases[].bogus"]


def test_an_empty_list_of_documented_objects_is_documented():
    # a machine without any library writes `libraries_vs_ours: []` (the bare README install)
    assert sorted(key_paths({"libraries_vs_ours": []})) == ["libraries_vs_ours[]"]
    assert undocumented({"libraries_vs_ours": [], "workspace_cap": []}) == []
    assert undocumented({"bogus": []}) == ["bogus[]"]
    assert undocumented({"cases": [{"results": {"naive": {"bogus": []}}}]}) == \
        ["cases[].results.<backend>.bogus[]"]


@pytest.fixture(scope="module")
def fresh_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "r.json"
    code, _ = run_report(["--cases", "tiny,lenet5.c1", "--backends", "naive,winograd4x4,auto",
                          "--quick", "--repeats", "1", "--threads", "1", "--json", str(path),
                          "--sections", "conv,pool,train,eval,breakdown"])
    assert code == 0
    return json.loads(path.read_text())


def test_a_fresh_report_is_documented(fresh_report):
    # the row kinds this test means to see
    assert any(c.get("unsupported") for c in fresh_report["cases"])
    assert any("note" in r for c in fresh_report["cases"] for r in c["results"].values())
    assert undocumented(fresh_report) == []


def test_the_committed_report_is_documented():
    report = json.loads((ROOT / "docs" / "bench.json").read_text())
    assert report["peak_memory"] is not None and report["breakdown"]
    assert undocumented(report) == []


def test_the_documented_backends_are_the_registered_ones():
    for name in kernels.available():  # a plug-in of this environment is not the doc's
        if kernels.origin(name) in ("built-in", "framework"):
            assert f"`{name}`" in DOC
