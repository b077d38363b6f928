"""`python -m kernels fleet` (kernels.bench.fleet): shards launched through submitit. On one
machine, with submitit's debug executor (the shards one after another), a two-shard quick
map merges to exactly the points of an unsharded run; the Slurm configuration asks for one
exclusive node per shard. Skipped without submitit (the `fleet` extra)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kernels.bench import fleet, shards

submitit = pytest.importorskip("submitit", reason="submitit not installed: pip install "
                                                   "'convbench[fleet]'")

MAP = ["--quick", "--backends", "im2col,strided", "--no-torch", "--no-libraries",
       "--repeats", "1", "--threads", "1"]


def _points(result):
    return {shards.unit_of_point(panel, p) for panel, points in result["panels"].items()
            for p in points}


def test_two_shards_on_the_debug_executor_merge_to_the_unsharded_points(tmp_path):
    out = tmp_path / "merged.json"
    code = fleet.main(["--shards", "2", "--folder", str(tmp_path / "runs"), "--out", str(out),
                       "--engine", "debug", "map", "--", *MAP])
    assert code == 0
    merged = json.loads(out.read_text())
    whole = tmp_path / "whole.json"
    done = subprocess.run([sys.executable, "-m", "kernels", "map", *MAP, "--json", str(whole)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    unsharded = json.loads(whole.read_text())
    assert _points(merged) == _points(unsharded)
    assert len(_points(merged)) == sum(len(p) for p in merged["panels"].values()) == 12
    for panel in ("channels", "size"):  # the unsharded order too
        assert [shards.unit_of_point(panel, p) for p in merged["panels"][panel]] == \
            [shards.unit_of_point(panel, p) for p in unsharded["panels"][panel]]
    assert merged["merged"]["partial"] is False
    assert {s["index"] for s in merged["merged"]["shards"]} == {1, 2}
    for i in (1, 2):
        record = json.loads(fleet.shard_path(tmp_path / "runs", i, 2).read_text())["shard"]
        assert record["index"] == i and record["count"] == 2


def test_a_failed_shard_fails_the_run_and_nothing_is_merged(tmp_path):
    out = tmp_path / "merged.json"
    code = fleet.main(["--shards", "2", "--folder", str(tmp_path / "runs"), "--out", str(out),
                       "--engine", "debug", "map", "--", *MAP, "--backends", "nope"])
    assert code == 1 and not out.exists()


def test_slurm_asks_for_one_exclusive_node_per_shard(tmp_path, monkeypatch):
    """The sbatch file submitit would submit with the launcher's parameters (no Slurm
    here: submitit's check for srun is answered yes)."""
    from submitit.slurm.slurm import SlurmExecutor

    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    executor = submitit.AutoExecutor(folder=tmp_path, cluster="slurm")
    params = fleet.parameters("slurm", 4, 30, partition="cpu", cpus_per_task=32)
    executor.update_parameters(**params)
    executor._executor.parameters["map_count"] = 4  # what map_array sets for an array of 4
    text = executor._executor._make_submission_file_text("python -m kernels", "uid")
    for line in ("#SBATCH --exclusive", "#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=1",
                 "#SBATCH --cpus-per-task=32", "#SBATCH --partition=cpu",
                 "#SBATCH --array=0-3%4"):
        assert line in text, line
    assert "exclusive" not in str(fleet.parameters("local", 4, 30))  # one after another


def test_the_launcher_names_each_shards_outputs(tmp_path, capsys):
    for bad in (["--json", "x.json"], ["--shard", "1/2"], ["--plot=m.png"], ["--js", "x"]):
        with pytest.raises(SystemExit) as stopped:
            fleet.main(["--shards", "2", "--folder", str(tmp_path), "--engine", "debug",
                        "map", "--", *bad])
        assert stopped.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as stopped:
        fleet.main(["--shards", "2", "--folder", str(tmp_path / "file"), "map"])
    assert stopped.value.code == 2 and "--folder" in capsys.readouterr().err
