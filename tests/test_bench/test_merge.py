"""`python -m kernels merge` (kernels.bench.merge): shards of one run join into the run's
layout; shards measured unlike, given twice, overlapping or incomplete are refused (exit 1,
nothing written) unless --partial, which marks the merge."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import pytest

from kernels.bench import algorithm_map, merge, shards

AXES = dict(kernels=(1, 3), channels=(4, 64), sizes=(8,))
UNITS = algorithm_map.units(AXES, [])


def _map_shard(index, count, **settings):
    """A map shard's JSON as `map --shard` writes it, with made-up times."""
    mine = shards.split(UNITS, index, count)
    panels = {"channels": [], "size": []}
    for unit in mine:
        match = re.fullmatch(r"(\w+) k=(\d+) C=(\d+) H=(\d+)", unit)
        panel, k, C, H = match[1], *map(int, match.groups()[1:])
        panels[panel].append(dict(N=4, C=C, H=H, k=k, flops=1, winner="im2col", margin=None,
                                  vs_torch=None, library=None, vs_library=None,
                                  seconds={"im2col": 0.001 * index}))
    return dict(environment=dict(date="2026-12-06", cpu="CPU X", threads=2,
                                 command=f"python -m kernels map --shard {index}/{count}"),
                batch=4, kernels_axis=list(AXES["kernels"]),
                channels_axis=list(AXES["channels"]), sizes_axis=list(AXES["sizes"]),
                panels=panels, cases=[],
                settings=dict(dict(quick=True, repeats=1, batch=4, dtype="float32", threads=2,
                                   cpu="CPU X", cores=2, backends=["im2col"], libraries=[],
                                   torch=False), **settings),
                shard=shards.record(index, count, mine, UNITS, ["im2col"]))


def _named(*reports):
    return {f"shard{i}.json": r for i, r in enumerate(reports, 1)}


def test_the_shards_of_a_map_merge_into_the_unsharded_order():
    result = merge.merge(_named(_map_shard(2, 2), _map_shard(1, 2)))
    points = [shards.unit_of_point(panel, p) for panel in ("channels", "size")
              for p in result["panels"][panel]]
    assert sorted(points) == sorted(UNITS)
    assert [u for u in UNITS if u.startswith("channels")] == \
        [shards.unit_of_point("channels", p) for p in result["panels"]["channels"]]
    assert "shard" not in result
    info = result["merged"]
    assert info["partial"] is False and info["missing"] == [] and info["count"] == 2
    assert [s["index"] for s in info["shards"]] == [1, 2]


@pytest.mark.parametrize("key, value", [("threads", 1), ("cpu", "CPU Y"), ("cores", 64),
                                        ("dtype", "float64"), ("quick", False),
                                        ("batch", 8), ("backends", ["im2col", "numba"])])
def test_shards_measured_unlike_are_refused(key, value):
    with pytest.raises(merge.NotMergeable, match=f"settings.{key}"):
        merge.merge(_named(_map_shard(1, 2), _map_shard(2, 2, **{key: value})))


def test_another_machine_fingerprint_is_refused_when_recorded():
    one, two = _map_shard(1, 2), _map_shard(2, 2)
    one["environment"]["machine"] = {"id": "aaaa"}
    two["environment"]["machine"] = {"id": "bbbb"}
    with pytest.raises(merge.NotMergeable, match="machine.id"):
        merge.merge(_named(one, two))
    two["environment"]["machine"] = {"id": "aaaa"}
    assert merge.merge(_named(one, two))["merged"]["partial"] is False


def test_another_split_and_another_selection_are_refused():
    with pytest.raises(merge.NotMergeable, match="shard count"):
        merge.merge(_named(_map_shard(1, 2), _map_shard(2, 3)))
    other = _map_shard(2, 2)
    other["shard"]["of"] = other["shard"]["of"][:-1]
    with pytest.raises(merge.NotMergeable, match="another selection"):
        merge.merge(_named(_map_shard(1, 2), other))
    with pytest.raises(merge.NotMergeable, match="kind"):
        bench = copy.deepcopy(_map_shard(2, 2))
        del bench["panels"]
        merge.merge(_named(_map_shard(1, 2), bench))


def test_a_shard_given_twice_or_overlapping_is_refused():
    with pytest.raises(merge.NotMergeable, match="all shard 1"):
        merge.merge(_named(_map_shard(1, 2), _map_shard(1, 2), _map_shard(2, 2)))
    overlapping = _map_shard(2, 2)
    overlapping["shard"]["units"].append(_map_shard(1, 2)["shard"]["units"][0])
    with pytest.raises(merge.NotMergeable, match="is in both"):
        merge.merge(_named(_map_shard(1, 2), overlapping))


def test_missing_points_are_named_and_refused_unless_partial():
    with pytest.raises(merge.NotMergeable) as refused:
        merge.merge(_named(_map_shard(1, 3), _map_shard(3, 3)))
    lost = _map_shard(2, 3)["shard"]["units"]
    assert "shard 2 of 3 not given" in refused.value.args[0]
    assert all(u in refused.value.args[0] for u in lost)
    result = merge.merge(_named(_map_shard(1, 3), _map_shard(3, 3)), partial=True)
    assert result["merged"]["partial"] is True
    assert result["merged"]["missing"] == lost and result["merged"]["missing_shards"] == [2]


def _run(*argv):
    return subprocess.run([sys.executable, "-m", "kernels", "merge", *argv],
                          capture_output=True, text=True)


def test_the_command_writes_atomically_and_refuses_with_exit_1(tmp_path):
    paths = []
    for i in (1, 2, 3):
        paths.append(tmp_path / f"s{i}.json")
        paths[-1].write_text(json.dumps(_map_shard(i, 3)))
    out = tmp_path / "merged.json"
    out.write_text("old")
    done = _run(str(out), str(paths[0]), str(paths[2]))
    assert done.returncode == 1 and "not merged" in done.stderr
    assert out.read_text() == "old"  # nothing written
    assert "Traceback" not in done.stderr
    done = _run(str(out), *map(str, paths))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["merged"]["count"] == 3
    done = _run("--partial", str(out), str(paths[0]))
    assert done.returncode == 0 and "PARTIAL" in done.stdout
    assert json.loads(out.read_text())["merged"]["partial"] is True
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("setup, says", [
    (lambda d: d / "nowhere.json", "cannot read"),
    (lambda d: (d / "bad.json").write_text("{") and d / "bad.json", "not JSON"),
    (lambda d: (d / "plain.json").write_text("{}") and d / "plain.json", "no `shard` key"),
])
def test_a_file_that_is_not_a_shard_is_a_one_line_usage_error(tmp_path, setup, says):
    done = _run(str(tmp_path / "out.json"), str(setup(tmp_path)))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and says in done.stderr


def test_the_output_cannot_be_one_of_the_shards(tmp_path):
    shard = tmp_path / "s1.json"
    shard.write_text(json.dumps(_map_shard(1, 1)))
    done = _run(str(shard), str(shard))
    assert done.returncode == 2 and "also a shard" in done.stderr
    assert json.loads(shard.read_text())["shard"]["index"] == 1


def test_two_bench_shards_merge_into_one_report(tmp_path):
    """Two real (tiny) bench shards: the merge has every case once, in the unsharded
    order, recomputed targets and each shard's own machine figures."""
    from test_bench.test_report import run_report

    argv = ["--cases", "tiny,convnet.conv1", "--backends", "im2col", "--no-torch",
            "--repeats", "1", "--threads", "1", "--sections", "conv,pool"]
    files = []
    for i in (1, 2):
        files.append(str(tmp_path / f"bench-{i}.json"))
        code, _ = run_report([*argv, "--shard", f"{i}/2", "--json", files[-1]])
        assert code == 0
    out = tmp_path / "bench.json"
    assert merge.main([str(out), *files]) == 0
    report = json.loads(out.read_text())
    assert [c["name"] for c in report["cases"]] == ["convnet.conv1", "tiny.conv", "tiny.pool"]
    assert len(report["merged"]["shards"]) == 2
    assert all("gemm" in s for s in report["merged"]["shards"])
    assert isinstance(report["targets"], list) and "shard" not in report
