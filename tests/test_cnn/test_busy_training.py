"""`cnn train` says when other work took a core (issue 23: a busy machine made the default
run 167-430 s an epoch against the documented 24.5 s, and nothing said why): each epoch's
line ends with BUSY, a warning follows the run, and the metrics JSON holds each epoch's
`load`. Proved with a busy loop the test starts itself."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from cnn import data
from cnn.outputs import busy_note, busy_summary
from cnn_helpers import make_fake_mnist, official_table_for, run
from kernels.support import busy


@pytest.fixture
def mnist(tmp_path, monkeypatch):
    """A learnable fake MNIST big enough that an epoch spans some hundred 10 ms ticks of
    /proc/stat, so tick rounding (a tick or two per reading) cannot hide a core."""
    directory = tmp_path / "mnist"
    make_fake_mnist(directory, n_train=2048, n_test=512)
    monkeypatch.setattr(data, "OFFICIAL", official_table_for(directory))
    return directory


def test_a_core_taken_by_another_process_is_flagged(mnist, tmp_path, capsys, monkeypatch):
    if busy.machine_cpu_seconds() is None:
        pytest.skip("no /proc/stat")
    # judged however short the epoch is on a fast machine: the busy loop takes a whole core
    # (two thirds of one beside our two threads on two cores), far above the quarter core
    monkeypatch.setattr(busy, "MIN_SECONDS", 0.0)
    metrics = tmp_path / "metrics.json"
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it start
        code, out, err = run(["train", "--arch", "tiny", "--batch-size", "64", "--no-progress",
                              "--epochs", "1", "--backend", "im2col", "--data-dir", mnist,
                              "--no-save", "--metrics-json", metrics], capsys)
    finally:
        spinner.kill()
        spinner.wait()
    assert code == 0, err
    (epoch,) = json.loads(metrics.read_text())["epochs"]
    assert epoch["load"]["busy"] is True, epoch["load"]
    assert epoch["load"]["others_cores"] > busy.OTHERS_BUSY_CORES
    (line,) = [x for x in out.splitlines() if x.startswith("epoch 1/1")]
    assert f"BUSY: other processes took {epoch['load']['others_cores']:.2f} of " in line
    assert "warning: the machine was busy" in err and "during epoch 1;" in err


def _record(epoch, load):
    return dict(epoch=epoch, load=load)


def test_a_quiet_or_unmeasured_epoch_says_nothing():
    quiet = dict(others_cores=0.05, wall_seconds=20.0, busy=False)
    short = dict(others_cores=1.0, wall_seconds=0.1, busy=None)  # too few ticks to judge
    history = [_record(1, quiet), _record(2, short), _record(3, None)]  # None: no /proc/stat
    assert [busy_note(r) for r in history] == ["", "", ""]
    assert busy_summary(history) is None


def test_the_summary_names_the_busy_epochs_and_the_most_cores_taken():
    taken = [_record(1, dict(others_cores=0.05, wall_seconds=20.0, busy=False)),
             _record(2, dict(others_cores=0.97, wall_seconds=20.0, busy=True)),
             _record(3, dict(others_cores=0.4, wall_seconds=20.0, busy=True))]
    summary = busy_summary(taken)
    assert "up to 0.97 of" in summary and "during epochs 2, 3;" in summary
