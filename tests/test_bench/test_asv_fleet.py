"""asv as the fleet's history (docs/asv-and-pytest-benchmark.md, "Many machines"): two named
machines time one tiny benchmark, `asv publish` builds one page listing both, and `asv
compare` never pairs one machine's results with another's. Run on this one machine, in a
temporary results folder and HOME (asv's ~/.asv-machine.json), with `--python=same
--quick` and one parameter of one benchmark; skipped without asv or git history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("asv", reason="asv not installed: pip install 'convbench[bench]'")

ROOT = Path(__file__).resolve().parents[2]
BENCH = r"PoolForward.time_forward\('numba', 'convnet.pool1'\)"
ROW = "time_forward('numba', 'convnet.pool1')"


def _git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Results of node-a at two commits and node-b at the newer one, and the page."""
    older, newer = (_git("rev-parse", c).stdout.strip() for c in ("HEAD~1", "HEAD"))
    if not older or not newer:
        pytest.skip("no git history here (an sdist or a shallow clone)")
    tmp = tmp_path_factory.mktemp("asv-fleet")
    text = (ROOT / "asv.conf.json").read_text()
    config = json.loads("\n".join(line for line in text.splitlines()
                                  if not line.strip().startswith("//")))
    config.update(repo=str(ROOT), benchmark_dir=str(ROOT / "benchmarks"),
                  results_dir=str(tmp / "results"), html_dir=str(tmp / "html"),
                  env_dir=str(tmp / "env"))
    (tmp / "asv.conf.json").write_text(json.dumps(config))
    env = dict(os.environ, HOME=str(tmp))  # asv keeps machine names in ~/.asv-machine.json

    def asv(*args, check=True):
        done = subprocess.run([sys.executable, "-m", "asv", *args, "--config",
                               str(tmp / "asv.conf.json")], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=600)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    for name in ("node-a", "node-b"):
        asv("machine", "--machine", name, "--yes")
    for name, commit in (("node-a", older), ("node-a", newer), ("node-b", newer)):
        asv("run", "--python=same", "--quick", "-b", BENCH, "--set-commit-hash", commit,
            "--machine", name)
    asv("publish")
    return dict(asv=asv, tmp=tmp, older=older, newer=newer)


def test_each_machine_keeps_its_own_results(fleet):
    results = fleet["tmp"] / "results"
    assert sorted(p.name for p in results.iterdir() if p.is_dir()) == ["node-a", "node-b"]
    assert len(list((results / "node-a").glob("*-existing-*.json"))) == 2
    assert len(list((results / "node-b").glob("*-existing-*.json"))) == 1


def test_one_page_shows_both_machines(fleet):
    index = json.loads((fleet["tmp"] / "html" / "index.json").read_text())
    assert sorted(index["machines"]) == ["node-a", "node-b"]
    assert index["params"]["machine"] == ["node-a", "node-b"]
    graphs = {p.name for p in (fleet["tmp"] / "html" / "graphs").rglob("machine-*")}
    assert graphs == {"machine-node-a", "machine-node-b"}


def _row(output):
    return next(line for line in output.splitlines() if ROW in line)


def test_compare_never_pairs_results_across_machines(fleet):
    asv, older, newer = fleet["asv"], fleet["older"], fleet["newer"]
    mixed = asv("compare", older, newer, check=False)
    assert mixed.returncode != 0  # results of two machines: asv asks which one
    assert "several machines" in mixed.stdout + mixed.stderr
    same = asv("compare", "--machine", "node-a", older, newer)
    before, after = (cell.strip() for cell in _row(same.stdout).split("|")[2:4])
    assert "ms" in before and "ms" in after  # node-a's two commits, side by side
    # node-b never timed the older commit: asv says so rather than borrow node-a's figure
    alone = asv("compare", "--machine", "node-b", older, newer, check=False)
    assert alone.returncode != 0 and f"Did not find results for commit {older}" in alone.stdout
