"""A user's own layers (kernels.cases.custom): the --case spec, the JSON and CSV case files,
CONVBENCH_CASES_FILE, and their one-line refusals, checked before anything is measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernels.cases import BATCH, all_cases
from kernels.cases import custom

ROOT = Path(__file__).resolve().parents[2]
SPEC = "name=mylayer,N=8,C=64,H=56,W=40,F=32,k=3,stride=2,padding=1,dilation=1,groups=4"


def test_a_full_spec():
    case = custom.parse_spec(SPEC)
    assert (case.name, case.N, case.C, case.H, case.W, case.F, case.k) == \
        ("mylayer", 8, 64, 56, 40, 32, 3)
    assert (case.stride, case.padding, case.dilation, case.groups) == (2, 1, 1, 4)
    assert case.set == custom.USER_SET and case.kind == "conv"
    assert case.source == custom.COMMAND_LINE_SOURCE and not case.naive_ok
    geo = case.geometry()
    assert (geo.Ho, geo.Wo) == (28, 20)  # (56 + 2 - 3) // 2 + 1, (40 + 2 - 3) // 2 + 1
    x, w, b, dy = case.arrays()
    assert x.shape == (8, 64, 56, 40) and w.shape == (32, 16, 3, 3) and dy.shape[2:] == (28, 20)


def test_defaults_pairs_and_pools():
    case = custom.parse_spec("name=a, C=3, H=9, F=2, k=3x5, padding=same, source=my net")
    assert (case.N, case.W, case.k, case.padding, case.source) == (BATCH, None, (3, 5), "same",
                                                                   "my net")
    assert case.geometry().Ho == 9 and case.geometry().Wo == 9
    pool = custom.parse_spec("name=p,kind=pool,op=avg,C=4,H=8,N=2,naive=1")
    assert (pool.kind, pool.op, pool.k, pool.N, pool.naive_ok, pool.set) == \
        ("pool", "avg", 2, 2, True, custom.USER_SET)
    assert pool.arrays()[1].shape == (2, 4, 4, 4)


@pytest.mark.parametrize("spec, message", [
    ("", "--case is empty"),
    ("name=a,C=4,H=8,F=4,k=3,colour=red", "unknown key 'colour'"),
    ("name=a,C=four,H=8,F=4,k=3", "C='four' is not an integer"),
    ("name=a,C=4,H=8,F=4,k=2.5", "k='2.5' is not an integer"),
    ("name=a,C=4,H=8,F=4,k=3x3x3", "k="),
    ("name=a,C=4,H=8,F=4", "k is missing"),
    ("C=4,H=8,F=4,k=3", "needs a name"),
    ("name=a,C=4,H=8,F=4,k=3,C=5", "C is given twice"),
    ("name=a,C4,H=8", "'C4' is not key=value"),
    ("name=a,C=4,H=2,F=4,k=3", "larger than the padded input"),
    ("name=a,C=6,H=8,F=4,k=3,groups=4", "groups=4 must divide the input channels C=6"),
    ("name=a,C=4,H=8,F=6,k=3,groups=4", "must divide the output channels F=6"),
    ("name=a,C=4,H=8,F=4,k=3,stride=0", "stride must be >= 1"),
    ("name=a,C=4,H=8,F=4,k=3,padding=-1", "padding"),
    ("name=a,C=4,H=8,F=4,k=3,N=0", "N=0 must be >= 1"),
    ("name=a,C=4,H=8,F=4,k=3,stride=2,padding=same", "'same' needs stride 1"),
    ("name=a,C=4,H=8,F=4,k=3,naive=yes", "naive='yes' must be 0 or 1"),
    ("name=a,kind=deconv,C=4,H=8,F=4,k=3", "choose conv or pool"),
    ("name=p,kind=pool,op=min,C=4,H=8", "op='min'; choose max or avg"),
    ("name=p,kind=pool,op=max,C=4,H=8,F=2", "unknown key 'F'"),
    ("name=p,kind=pool,op=max,C=4,H=1,k=2", "larger than the padded input"),
])
def test_bad_specs_are_value_errors_naming_the_problem(spec, message):
    with pytest.raises(ValueError, match=None) as error:
        custom.collect([spec])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_names_must_not_collide():
    taken = next(iter(all_cases()))
    for name in (taken, "mnist", "all", custom.USER_SET):
        with pytest.raises(ValueError, match="taken by the named cases"):
            custom.collect([f"name={name},C=1,H=8,F=1,k=3"])
    with pytest.raises(ValueError, match="given twice"):
        custom.collect(["name=a,C=1,H=8,F=1,k=3", "name=a,C=2,H=8,F=1,k=3"])


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_json_file(tmp_path):
    path = _write(tmp_path, "cases.json", json.dumps([
        dict(name="j1", C=16, H=20, F=8, k=[1, 3], padding="0x1", source="paper, table 2"),
        dict(name="j2", kind="pool", op="max", C="4", H=8, source="my net")]))
    first, second = custom.read_file(path)
    assert (first.k, first.padding, first.source, first.geometry().Wo) == \
        ((1, 3), (0, 1), "paper, table 2", 20)
    assert (second.kind, second.C) == ("pool", 4)


def test_a_csv_file_with_empty_cells_as_defaults(tmp_path):
    path = _write(tmp_path, "cases.csv", "name,C,H,W,F,k,stride,padding,source\n"
                                         "c1,3,32,,16,3,,1,\"ResNet stem, scaled\"\n"
                                         "c2,16,32,24,16,5,2,2,my detector\n")
    c1, c2 = custom.read_file(path)
    assert (c1.W, c1.stride, c1.padding, c1.source) == (None, 1, 1, "ResNet stem, scaled")
    assert (c2.W, c2.stride, c2.geometry().Wo) == (24, 2, 12)


@pytest.mark.parametrize("name, text, message", [
    ("a.json", '[{"name": "x", "C": 1, "H": 8, "F": 1, "k": 3}]', "needs a source"),
    ("a.json", '{"name": "x"}', "must be a list of objects"),
    ("a.json", '[{"name": "x",', "not valid JSON"),
    ("a.json", "[]", "has no cases"),
    ("a.csv", "name,C,H,F,k,source\nx,1,8,1,3,\n", "needs a source"),
    ("a.csv", "name,C,H,F,k,source\nx,1,8,1,3,net,extra\n", "more cells than the header"),
    ("a.csv", "", "is empty"),
    ("a.csv", "name,C,H,F,k,source,stride\nx,1,8,1,3,net,two\n", "stride='two'"),
    ("a.csv", "name,C,H,F,k,source,size\nx,1,8,1,3,net,4\n", "unknown key 'size'"),
])
def test_bad_files(tmp_path, name, text, message):
    with pytest.raises(ValueError) as error:
        custom.read_file(_write(tmp_path, name, text))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read it"):
        custom.read_file(tmp_path / "nowhere.csv")


def test_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(custom.ENVIRONMENT_VARIABLE, raising=False)
    assert custom.from_environment() == []
    path = _write(tmp_path, "c.csv", "name,C,H,F,k,source\nenv1,2,8,2,3,here\n")
    monkeypatch.setenv(custom.ENVIRONMENT_VARIABLE, str(path))
    assert [c.name for c in custom.from_environment()] == ["env1"]
    _write(tmp_path, "c.csv", "name,C,H,F,k,source\nenv1,2,8,2,9,here\n")
    with pytest.raises(ValueError, match=f"^{custom.ENVIRONMENT_VARIABLE}: "):
        custom.from_environment()


# ------------------------------------------------------------------ the command lines

def _command(*argv, env=None):
    return subprocess.run([sys.executable, "-m", "kernels", *argv], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.parametrize("command", ["bench", "map"])
@pytest.mark.parametrize("argv, message", [
    (["--case", "name=a,C=4,H=8,F=4,k=3,colour=red"], "unknown key 'colour'"),
    (["--case", "name=convnet.conv1,C=4,H=8,F=4,k=3"], "taken by the named cases"),
    (["--cases-file", "/nonexistent/cases.csv"], "cannot read it"),
])
def test_a_bad_case_is_one_line_and_exit_2_before_measuring(tmp_path, command, argv,
                                                            message):
    out = tmp_path / "out.json"
    done = _command(command, *argv, "--json", str(out))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and done.stdout == "" and not out.exists()


def test_the_bench_plan_carries_the_cases_resolved_once():
    """The command line turns names and specs into cases once, at --batch when given: the
    plan holds those objects, the named ones first in the usual order, then the user's."""
    from kernels.bench import cli

    parser = cli.build_parser()
    argv = ["--cases", "tiny.pool,tiny.conv", "--case", SPEC, "--batch", "3", "--no-torch"]
    plan = cli.plan_from(parser.parse_args(argv), parser, argv)
    assert [c.name for c in plan.cases] == ["tiny.conv", "tiny.pool", "mylayer"]
    assert plan.cases[0] == all_cases()["tiny.conv"].with_batch(3)
    assert plan.cases[2] == custom.parse_spec(SPEC).with_batch(3)
    assert plan.archs == ["tiny"]  # the user's layer belongs to no architecture


def test_the_map_refuses_pool_cases_alone(tmp_path):
    done = _command("map", "--case", "name=p,kind=pool,op=max,C=4,H=8")
    assert done.returncode == 2 and "p is a pool case; the map times convolutions" in \
        done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_example_cases_file_reads():
    """docs/example-cases.csv, which docs/report.md runs, stays valid."""
    cases = custom.read_file(ROOT / "docs" / "example-cases.csv")
    assert [c.kind for c in cases] == ["conv", "conv", "conv", "pool"]
    assert all(c.source for c in cases)
