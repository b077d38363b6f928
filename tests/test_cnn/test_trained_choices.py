"""The algorithms a model was trained with travel with it: a run with auto stores the one it
chose for each layer in the checkpoint, prints them as a short table, and `evaluate` and
`predict` compute with them instead of repeating auto's trials in every process (issue 17,
findings 13 and 14)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import kernels
from cnn.checkpoint import load_checkpoint
from cnn_helpers import run

TINY = ["--arch", "tiny", "--batch-size", "16", "--limit-train", "64", "--limit-test", "32",
        "--no-progress"]


@pytest.fixture
def fresh_auto(monkeypatch):
    """auto as in a new process: no decisions yet, no cache file."""
    import kernels.backends.auto as auto

    monkeypatch.delenv("CONVBENCH_AUTO_CACHE", raising=False)
    monkeypatch.setattr(auto, "_decisions", {})
    monkeypatch.setattr(auto, "_timings", {})
    return auto


@pytest.fixture
def auto_run(fake_mnist, fresh_auto, tmp_path, capsys):
    """One epoch of tiny trained with auto: (checkpoint, stdout, data folder)."""
    directory, _ = fake_mnist
    ckpt = tmp_path / "auto.npz"
    code, out, err = run(["train", *TINY, "--epochs", 1, "--backend", "auto", "--data-dir",
                          directory, "--save", ckpt], capsys)
    assert code == 0, err
    return ckpt, out, directory


def no_trials(auto, monkeypatch):
    """From here on, auto measuring a candidate fails the test (it records each measured
    decision through _remember)."""
    monkeypatch.setattr(auto, "_decisions", {})
    monkeypatch.setattr(auto, "_remember", lambda *a: pytest.fail("auto timed candidates"))


def test_the_checkpoint_stores_each_layers_algorithm(auto_run, fresh_auto):
    ckpt, _, _ = auto_run
    stored = load_checkpoint(ckpt)[2]["layer_backends"]
    assert sorted(stored) == ["0", "2"]  # tiny: the conv and the max pool
    assert set(stored.values()) <= set(kernels.available(kernels.ALGORITHM))


def test_evaluate_and_predict_use_the_stored_choices_without_trials(auto_run, fresh_auto,
                                                                    monkeypatch, capsys):
    ckpt, _, directory = auto_run
    no_trials(fresh_auto, monkeypatch)
    code, out, err = run(["evaluate", ckpt, "--data-dir", directory, "--limit-test", 100,
                          "--no-progress"], capsys)
    assert code == 0, err
    assert "test accuracy" in out
    code, out, err = run(["predict", ckpt, 0, 1, 2, "--data-dir", directory], capsys)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3


def _with_meta(ckpt, change):
    with np.load(ckpt) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(ckpt, **arrays)


def test_evaluate_computes_with_the_stored_algorithms(auto_run, fresh_auto, monkeypatch,
                                                      capsys):
    """Stored choices rewritten to strided: strided computes the conv layer."""
    ckpt, _, directory = auto_run
    _with_meta(ckpt, lambda m: m.update(layer_backends={"0": "strided", "2": "strided"}))
    strided = kernels.get_backend("strided")
    calls = []
    real = strided.conv2d_forward
    monkeypatch.setattr(strided, "conv2d_forward",
                        lambda *a, **k: calls.append(a[0].shape) or real(*a, **k))
    no_trials(fresh_auto, monkeypatch)
    code, _, err = run(["evaluate", ckpt, "--data-dir", directory, "--no-progress"], capsys)
    assert code == 0, err
    assert calls and all(shape[1:] == (1, 28, 28) for shape in calls)


def test_an_older_checkpoint_hands_auto_its_stored_decisions(auto_run, fresh_auto,
                                                             monkeypatch, capsys):
    """Without per-layer choices, auto adopts the stored decisions: evaluating on the batch
    the training run evaluated on needs no trial."""
    ckpt, _, directory = auto_run
    _with_meta(ckpt, lambda m: m.pop("layer_backends"))
    no_trials(fresh_auto, monkeypatch)
    code, _, err = run(["evaluate", ckpt, "--data-dir", directory, "--limit-test", 32,
                        "--no-progress"], capsys)
    assert code == 0, err


def test_a_model_trained_with_the_reference_is_not_evaluated_with_it(auto_run, monkeypatch,
                                                                     capsys):
    """naive is the definition, hours on 10,000 images: never a default, auto instead."""
    ckpt, _, directory = auto_run
    _with_meta(ckpt, lambda m: m.update(backend="naive",
                                        layer_backends={"0": "naive", "2": "naive"}))
    naive = kernels.get_backend("naive")
    monkeypatch.setattr(naive, "conv2d_forward", lambda *a, **k: pytest.fail("naive ran"))
    code, out, err = run(["evaluate", ckpt, "--data-dir", directory, "--limit-test", 32,
                          "--no-progress"], capsys)
    assert code == 0, err


def test_an_explicit_backend_is_used_as_asked(auto_run, fresh_auto, monkeypatch, capsys):
    ckpt, _, directory = auto_run
    im2col = kernels.get_backend("im2col")
    calls = []
    real = im2col.conv2d_forward
    monkeypatch.setattr(im2col, "conv2d_forward",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    _with_meta(ckpt, lambda m: m.update(layer_backends={"0": "strided", "2": "strided"}))
    code, _, err = run(["predict", ckpt, 3, "--backend", "im2col", "--data-dir", directory],
                       capsys)
    assert code == 0, err
    assert calls


def test_a_short_table_of_the_training_layers_choices(auto_run, fresh_auto):
    """One row per conv and pooling layer with the algorithm of the training batches: not
    the batch-1 shape-tracing pass, not the evaluation batches."""
    ckpt, out, _ = auto_run
    lines = out.splitlines()
    start = lines.index("auto chose, per layer (training batches of 16):")
    rows = lines[start + 1:start + 3]
    stored = load_checkpoint(ckpt)[2]["layer_backends"]
    assert re.fullmatch(rf"  layer 0  Conv2D\(1->8, 3x3, stride=1, padding=0\)  "
                        rf"{stored['0']}", rows[0]), rows
    assert re.fullmatch(rf"  layer 2  MaxPool2D\(2\) +{stored['2']}", rows[1]), rows
    assert not lines[start + 3].startswith("  layer"), lines
    assert all(len(line) < 100 for line in lines[start:start + 3])


def test_tracing_the_shapes_makes_auto_time_nothing(auto_run, fresh_auto):
    """auto decided only the batches trained (16) and evaluated (32), never a batch of 1."""
    batches = {int(m) for key in fresh_auto.decisions()
               for m in re.findall(r"\|x\((\d+),", key)}
    assert batches == {16, 32}
