"""`--shard i/n` (kernels.bench.shards): the spec's checks, a split that puts every unit in
exactly one shard whatever the order it is given in, and the cut of bench's plan and map's
points - all without measuring anything."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from kernels.bench import algorithm_map, cli, shards


@pytest.mark.parametrize("text, expected", [("1/1", (1, 1)), ("2/4", (2, 4)),
                                            (" 3 / 3 ", (3, 3))])
def test_a_spec_is_i_of_n_from_one(text, expected):
    assert shards.parse(text) == expected


@pytest.mark.parametrize("text, says", [("0/2", "numbered from 1"), ("3/2", "from 1 to 2"),
                                        ("1/0", "at least 1"), ("a/b", "i/n"), ("2", "i/n"),
                                        ("", "i/n"), ("-1/2", "i/n"), ("1/2/3", "i/n")])
def test_a_bad_spec_says_why(text, says):
    with pytest.raises(ValueError, match=says):
        shards.parse(text)


MAP_UNITS = algorithm_map.units(dict(kernels=(1, 3, 5, 7, 9, 11),
                                     channels=(1, 4, 16, 64, 256),
                                     sizes=(8, 16, 32, 64, 128)), [])


@pytest.mark.parametrize("count", [1, 2, 3, 7, 60])
def test_every_unit_lands_in_exactly_one_shard(count):
    parts = [shards.split(MAP_UNITS, i, count) for i in range(1, count + 1)]
    assert sorted(u for part in parts for u in part) == sorted(MAP_UNITS)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    for part in parts:  # each shard keeps the run's own order
        assert part == [u for u in MAP_UNITS if u in part]


def test_the_split_does_not_depend_on_the_order_units_come_in():
    shuffled = list(MAP_UNITS)
    random.Random(7).shuffle(shuffled)
    for i in (1, 2, 3):
        assert set(shards.split(shuffled, i, 3)) == set(shards.split(MAP_UNITS, i, 3))


def test_numbers_sort_as_numbers_and_the_heavy_points_are_shared():
    assert shards.natural_key("k=3 C=4") < shards.natural_key("k=11 C=4")
    quick = algorithm_map.units(dict(kernels=(1, 3, 7), channels=(4, 64), sizes=(8, 32)), [])
    heavy = [u for u in quick if "C=64" in u]
    # a plain round-robin gave all three 64-channel points to shard 2
    assert {len(set(heavy) & set(shards.split(quick, i, 2))) for i in (1, 2)} == {1, 2}


def test_a_unit_listed_twice_is_a_bug():
    with pytest.raises(ValueError, match="twice"):
        shards.split(["a", "a"], 1, 2)


def _plan(argv):
    parser = cli.build_parser()
    return cli.plan_from(parser.parse_args(argv), parser, argv), parser


def test_bench_shards_split_cases_and_models_and_record_it():
    argv = ["--cases", "mnist", "--backends", "im2col", "--no-torch",
            "--sections", "conv,pool,train"]
    whole, parser = _plan(argv)
    units = shards.bench_units(whole)
    assert "model convnet" in units and "case convnet.conv1" in units
    cut = [cli._sharded(whole, f"{i}/3", parser) for i in (1, 2, 3)]
    assert sorted(c.name for plan, _ in cut for c in plan.cases) == \
        sorted(c.name for c in whole.cases)
    assert sorted(a for plan, _ in cut for a in plan.archs) == sorted(whole.archs)
    for i, (plan, record) in enumerate(cut, 1):
        assert record["index"] == i and record["count"] == 3 and record["of"] == units
        assert record["backends"] == ["im2col"]
        assert set(record["units"]) == {f"case {c.name}" for c in plan.cases} | \
            {f"model {a}" for a in plan.archs}


def test_without_a_model_section_the_architectures_are_not_units():
    whole, _ = _plan(["--cases", "tiny", "--sections", "conv", "--no-torch"])
    assert shards.bench_units(whole) == ["case tiny.conv"]  # tiny.pool: no pool section


def _kernels(*argv):
    return subprocess.run([sys.executable, "-m", "kernels", *argv], capture_output=True,
                          text=True)


@pytest.mark.parametrize("command", ["bench", "map"])
@pytest.mark.parametrize("spec, says", [("0/2", "numbered from 1"), ("x", "i/n"),
                                        ("1/99", "use at most")])
def test_a_bad_shard_is_a_one_line_usage_error(command, spec, says):
    extra = ["--cases", "convnet", "--sections", "conv"] if command == "bench" else ["--quick"]
    done = _kernels(command, *extra, "--shard", spec)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and says in done.stderr
    assert "Traceback" not in done.stderr


def test_map_refuses_a_backend_that_is_not_one_of_ours():
    done = _kernels("map", "--quick", "--backends", "im2col,nope")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "nope" in done.stderr
