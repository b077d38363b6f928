"""The default thread count follows the cores other work leaves free, and says so in one line
at start (issue 23: on a busy 2-core machine the default 2 threads made training 3.3x slower
than 1); an explicit --threads always wins."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from kernels.bench import cli
from kernels.support import cores


def test_a_busy_core_lowers_the_default(monkeypatch):
    monkeypatch.setattr(cores, "usable_cores", lambda: 2)
    monkeypatch.setattr(cores, "others_cores", lambda: 0.97)
    assert cores.default_threads() == (
        1, "threads: 1 (2 cores, 1 busy with other work; --threads N to choose)")
    monkeypatch.setattr(cores, "others_cores", lambda: 0.1)
    assert cores.default_threads()[0] == 2
    monkeypatch.setattr(cores, "others_cores", lambda: 7.0)  # more than the cores: still 1
    assert cores.default_threads()[0] == 1
    monkeypatch.setattr(cores, "others_cores", lambda: None)  # no /proc/stat: all cores
    assert cores.default_threads() == (2, "threads: 2 (2 cores; --threads N to choose)")


def test_a_core_taken_by_another_process_is_counted():
    """A busy loop started by this test on one of our CPUs shows as a busy core in the
    sample the default is taken from."""
    if cores.machine_cpu_seconds() is None:
        pytest.skip("no /proc/stat")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it start
        others = cores.others_cores(1.0)
        threads, line = cores.default_threads()
    finally:
        spinner.kill()
        spinner.wait()
    assert others >= 0.7  # one core, less ticks and start-up
    assert threads < cores.usable_cores() or cores.usable_cores() == 1, line


def _plan(argv, monkeypatch, default=(1, "threads: 1 (2 cores, 1 busy with other work; "
                                      "--threads N to choose)")):
    monkeypatch.setattr(cli, "default_threads", lambda: default)
    parser = cli.build_parser()
    return cli.plan_from(parser.parse_args(argv), parser, argv)


def test_bench_takes_the_free_cores_and_says_so(monkeypatch, capsys):
    plan = _plan(["--cases", "tiny.conv", "--backends", "im2col", "--no-torch"], monkeypatch)
    assert plan.threads == 1
    assert capsys.readouterr().out.splitlines() == [
        "threads: 1 (2 cores, 1 busy with other work; --threads N to choose)"]


def test_an_explicit_thread_count_wins(monkeypatch, capsys):
    def must_not_sample():
        raise AssertionError("sampled the load although --threads was given")
    monkeypatch.setattr(cli, "default_threads", must_not_sample)
    parser = cli.build_parser()
    argv = ["--cases", "tiny.conv", "--backends", "im2col", "--no-torch", "--threads", "1"]
    assert cli.plan_from(parser.parse_args(argv), parser, argv).threads == 1
    assert "threads:" not in capsys.readouterr().out


@pytest.mark.parametrize("given", [None, "1"])
def test_cnn_train_states_its_default_and_keeps_an_explicit_count(monkeypatch, tmp_path,
                                                                  capsys, given):
    import cnn.cli
    from cnn import data
    from cnn_helpers import make_fake_mnist, official_table_for

    make_fake_mnist(tmp_path)
    monkeypatch.setattr(data, "OFFICIAL", official_table_for(tmp_path))
    monkeypatch.setattr(cnn.cli, "default_threads", lambda: (1, "threads: 1 (2 cores, 1 busy "
                                                             "with other work; --threads N to "
                                                             "choose)"))
    pinned = []
    monkeypatch.setattr(cnn.cli.runtime, "pin_threads", pinned.append)
    argv = ["train", "--arch", "tiny", "--epochs", "1", "--limit-train", "32", "--limit-test",
            "16", "--batch-size", "16", "--no-progress", "--no-save", "--data-dir",
            str(tmp_path)] + (["--threads", given] if given else [])
    assert cnn.cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    stated = [line for line in lines if line.startswith("threads: ")]
    assert stated == ([] if given else
                      ["threads: 1 (2 cores, 1 busy with other work; --threads N to choose)"])
    assert pinned == [1]
