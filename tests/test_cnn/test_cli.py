"""The command line `python -m cnn {train,evaluate,predict}`.

Most tests call cnn.cli.main in-process on a small fake MNIST (cnn_helpers.make_fake_mnist:
ten bar patterns plus noise, so a tiny model learns it in a couple of epochs) whose MD5s are
made "official" by monkeypatching cnn.data.OFFICIAL - the loader's MD5 check itself stays on.
A few error cases run `python -m cnn` as a subprocess to check the real exit code, a one-line
stderr message and the absence of a traceback; subprocesses do not see the monkeypatch, so
they only use cases that fail before data loading, the unpatched MD5 check, or the real data
(MNIST_DIR).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kernels
from cnn import cli, data, idx
from cnn.checkpoint import load_checkpoint
from cnn.data import prepare_images
from cnn.model import build_model
from cnn.train import evaluate
from cnn_helpers import (FAKE_TEST, FAKE_TRAIN, assert_one_line_error, listing,
                         official_table_for, run)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ fixtures and helpers


def run_quietly(argv):
    """cli.main with stdout/stderr captured to strings (usable in module fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def npz_params(path):
    with np.load(path) as archive:
        return {k: archive[k] for k in archive.files if k.startswith("param/")}


def load_model(path, backend="im2col"):
    params, _, meta = load_checkpoint(path)
    model = build_model(meta["arch"], backend=kernels.get_backend(backend), dtype=meta["dtype"])
    model.load_state_dict(params)
    return model


TRAIN_ARGS = ["--arch", "tiny", "--batch-size", "16", "--no-progress"]


@pytest.fixture(scope="module")
def trained(fake_dir, tmp_path_factory):
    """One CLI training run (tiny, 2 epochs) with --save, --metrics-json and --plot."""
    directory, arrays = fake_dir
    out_dir = tmp_path_factory.mktemp("run")
    paths = {"ckpt": out_dir / "model.npz", "metrics": out_dir / "metrics.json",
             "plot": out_dir / "curves.png"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "OFFICIAL", official_table_for(directory))
        code, out, err = run_quietly(
            ["train", *TRAIN_ARGS, "--epochs", 2, "--limit-train", 200, "--limit-test", 100,
             "--seed", 3, "--backend", "im2col", "--data-dir", directory,
             "--save", paths["ckpt"], "--metrics-json", paths["metrics"],
             "--plot", paths["plot"]])
    return dict(paths, code=code, out=out, err=err, dir=out_dir, arrays=arrays,
                data_dir=directory)


# ------------------------------------------------------------------ train end to end


def test_train_end_to_end(trained):
    assert trained["code"] == 0, trained["err"]
    assert "Traceback" not in trained["err"]
    out = trained["out"]
    assert "training tiny (float32) with backend im2col on 200 images, testing on 100" in out
    assert re.search(r"^epoch 1/2 ", out, re.M) and re.search(r"^epoch 2/2 ", out, re.M)
    # Exactly the three requested files, no temp files left over.
    assert listing(trained["dir"]) == ["curves.png", "metrics.json", "model.npz"]

    metrics = json.loads(trained["metrics"].read_text())
    for key in ("backend", "arch", "dtype", "seed", "train_samples", "test_samples", "epochs",
                "test_accuracy"):
        assert key in metrics, key
    assert (metrics["backend"], metrics["arch"], metrics["dtype"], metrics["seed"]) == \
        ("im2col", "tiny", "float32", 3)
    assert (metrics["train_samples"], metrics["test_samples"]) == (200, 100)
    epochs = metrics["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    for e in epochs:
        for key in ("epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"):
            assert key in e, key
        assert np.isfinite(e["train_loss"]) and e["train_loss"] > 0 and e["seconds"] > 0
        assert 0 <= e["train_accuracy"] <= 1 and 0 <= e["test_accuracy"] <= 1
        # Accuracies are fractions of whole images.
        assert round(e["test_accuracy"] * 100, 9) == round(e["test_accuracy"] * 100)
    assert metrics["test_accuracy"] == epochs[-1]["test_accuracy"]
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"]
    # The fake classes are ten well-separated bars: 26 batches reach ~100 % (chance: 10 %).
    assert metrics["test_accuracy"] >= 0.9
    assert f"test accuracy {metrics['test_accuracy']:.2%}" in out

    # The reported accuracy is the saved model's accuracy on the first 100 test images.
    model = load_model(trained["ckpt"])
    arrays = trained["arrays"]
    accuracy, _ = evaluate(model, prepare_images(arrays[data.TEST_IMAGES][:100]),
                           arrays[data.TEST_LABELS][:100].astype(np.intp))
    assert accuracy == metrics["test_accuracy"]
    meta = load_checkpoint(trained["ckpt"])[2]
    assert meta["epochs_done"] == 2 and meta["history"] == epochs

    png = trained["plot"].read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 1000


def test_train_naive_backend_matches_im2col(fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    params = {}
    for backend in ("naive", "im2col"):
        code, out, err = run(["train", *TRAIN_ARGS, "--backend", backend, "--epochs", 1,
                              "--batch-size", 4, "--limit-train", 8, "--limit-test", 4,
                              "--data-dir", directory, "--save", tmp_path / f"{backend}.npz",
                              "--metrics-json", tmp_path / f"{backend}.json"], capsys)
        assert code == 0, err
        assert f"with backend {backend} on 8 images, testing on 4" in out
        assert json.loads((tmp_path / f"{backend}.json").read_text())["backend"] == backend
        params[backend] = npz_params(tmp_path / f"{backend}.npz")
    # Same seed, same batches: the same model up to float32 rounding (see test_training).
    for name, value in params["im2col"].items():
        np.testing.assert_allclose(params["naive"][name], value, rtol=1e-4,
                                   atol=1e-4 * np.abs(value).max(), err_msg=name)


def test_train_with_progress_bar_and_float64(fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    code, out, err = run(["train", "--arch", "tiny", "--epochs", 1, "--limit-train", 32,
                          "--limit-test", 16, "--dtype", "float64", "--optimizer", "sgd",
                          "--lr", 0.01, "--data-dir", directory,
                          "--save", tmp_path / "f64.npz"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    params, _, meta = load_checkpoint(tmp_path / "f64.npz")
    assert meta["dtype"] == "float64" and meta["config"]["optimizer"] == "sgd"
    assert all(v.dtype == np.float64 for v in params.values())


# ------------------------------------------------------------------ evaluate


def parse_evaluate(out):
    lines = out.strip().splitlines()
    head = re.fullmatch(r"tiny: test accuracy ([\d.]+)% on (\d+) images \((\d+) correct\)",
                        lines[0])
    assert head, lines[0]
    assert lines[1].startswith("confusion matrix")
    assert lines[2].split() == [str(d) for d in range(10)]
    rows = [[int(v) for v in line.split()] for line in lines[3:]]
    assert len(rows) == 10 and all(len(r) == 11 for r in rows), rows
    assert [r[0] for r in rows] == list(range(10))
    return float(head[1]), int(head[2]), int(head[3]), np.array([r[1:] for r in rows])


@pytest.mark.parametrize("limit", [None, 50])
def test_evaluate_prints_accuracy_and_confusion_matrix(trained, fake_mnist, capsys, limit):
    directory, arrays = fake_mnist
    argv = ["evaluate", trained["ckpt"], "--data-dir", directory]
    if limit:
        argv += ["--limit-test", limit]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    percent, count, correct, confusion = parse_evaluate(out)
    n = limit or FAKE_TEST
    labels = arrays[data.TEST_LABELS][:n]
    assert count == n and confusion.sum() == n
    assert np.trace(confusion) == correct
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(labels, minlength=10))
    assert percent == pytest.approx(100 * correct / n, abs=0.005)
    # Same numbers as the library's evaluate on the same model and images.
    accuracy, expected = evaluate(load_model(trained["ckpt"]),
                                  prepare_images(arrays[data.TEST_IMAGES][:n]),
                                  labels.astype(np.intp))
    np.testing.assert_array_equal(confusion, expected)
    assert correct == round(accuracy * n)


# ------------------------------------------------------------------ predict


def predictions(model, images):
    logits = model.forward(prepare_images(images))
    return logits.argmax(axis=1)


def test_predict_test_indices(trained, fake_mnist, capsys):
    directory, arrays = fake_mnist
    indices = [0, 5, 17, 127]
    code, out, err = run(["predict", trained["ckpt"], *indices, "--data-dir", directory],
                         capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == len(indices)
    expected = predictions(load_model(trained["ckpt"]), arrays[data.TEST_IMAGES][indices])
    for line, index, digit in zip(lines, indices, expected):
        label = int(arrays[data.TEST_LABELS][index])
        m = re.fullmatch(rf"test\[{index}\]: (\d)  p=(0\.\d{{3}}|1\.000)  \(label (\d)(, WRONG)?\)",
                         line)
        assert m, line
        assert int(m[1]) == digit and int(m[3]) == label
        assert bool(m[4]) == (digit != label)


def test_predict_png_files(trained, fake_mnist, tmp_path, capsys):
    from PIL import Image
    directory, arrays = fake_mnist
    image = arrays[data.TEST_IMAGES][9]
    assert image.mean() < 127  # dark background: used as is
    dark, light = tmp_path / "digit.png", tmp_path / "light.png"
    Image.fromarray(image, mode="L").save(dark)
    # Black on white: the CLI inverts it back to exactly the same pixels.
    Image.fromarray(255 - image, mode="L").save(light)
    code, out, err = run(["predict", trained["ckpt"], dark, light, 9, "--data-dir", directory],
                         capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    digit = int(predictions(load_model(trained["ckpt"]), image[None])[0])
    results = [line.split(": ", 1)[1][:10] for line in lines]  # "d  p=0.xyz"
    assert lines[0].startswith(f"{dark}: {digit}  p=")
    assert lines[1].startswith(f"{light}: {digit}  p=")
    assert results[0] == results[1] == results[2], lines  # same pixels, same probability


def test_predict_png_without_data_dir_needs_no_dataset(trained, tmp_path, capsys, monkeypatch):
    """A PNG-only prediction never touches the dataset (no download attempt)."""
    from PIL import Image
    image = trained["arrays"][data.TEST_IMAGES][2]
    path = tmp_path / "x.png"
    Image.fromarray(image, mode="L").save(path)

    def no_loading(*args, **kwargs):
        raise AssertionError("load_mnist called")

    monkeypatch.setattr(cli, "load_mnist", no_loading)
    monkeypatch.setattr(cli, "load_test_set", no_loading)
    code, out, err = run(["predict", trained["ckpt"], path], capsys)
    assert code == 0, err
    digit = int(predictions(load_model(trained["ckpt"]), image[None])[0])
    assert out.startswith(f"{path}: {digit}  p=")


def write_png(path, array):
    from PIL import Image
    Image.fromarray(array, mode="L").save(path)
    return path


@pytest.mark.parametrize("kind,words", [
    ("small", ["small.png", "20x20", "expected 28x28"]),
    ("missing", ["missing.png", "no such file"]),
    ("text", ["notes.png", "not a readable image"]),
    ("index", ["test index 500", "out of range 0..127"]),
])
def test_predict_bad_images(trained, fake_mnist, tmp_path, capsys, kind, words):
    directory, _ = fake_mnist
    if kind == "small":
        item = write_png(tmp_path / "small.png", np.zeros((20, 20), np.uint8))
    elif kind == "missing":
        item = tmp_path / "missing.png"
    elif kind == "text":
        item = tmp_path / "notes.png"
        item.write_text("not an image")
    else:
        item = "500"  # an index past the 128 fake test images
    before = listing(tmp_path)
    code, out, err = run(["predict", trained["ckpt"], item, "--data-dir", directory], capsys)
    assert_one_line_error(code, err, *words)
    assert out == ""
    assert listing(tmp_path) == before


def test_predict_reports_a_bad_image_and_classifies_the_others(trained, fake_mnist, tmp_path,
                                                               capsys):
    """One 20x20 PNG among good items stopped the whole command (issue 23): it is reported in
    one line, the others are classified, and the exit status says something failed."""
    directory, arrays = fake_mnist
    good = write_png(tmp_path / "good.png", arrays[data.TEST_IMAGES][9])
    small = write_png(tmp_path / "small.png", np.zeros((20, 20), np.uint8))
    code, out, err = run(["predict", trained["ckpt"], good, small, 9, 500, "--data-dir",
                          directory], capsys)
    assert code == 2
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [str(good), "test[9]"], out
    errors = err.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in err, err
    assert "small.png: image is 20x20, expected 28x28" in errors[0]
    assert "test index 500 out of range" in errors[1]


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_evaluate_and_predict_need_only_the_test_files(trained, fake_mnist, tmp_path, capsys,
                                                       monkeypatch, command):
    """They demanded (and tried to download) the 60,000 training images they never use."""
    directory, _ = fake_mnist
    only_test = tmp_path / "only-test"
    only_test.mkdir()
    for name in (data.TEST_IMAGES, data.TEST_LABELS):
        shutil.copy(directory / name, only_test / name)
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))  # no download either
    argv = ["evaluate", trained["ckpt"], "--limit-test", 20] if command == "evaluate" else \
        ["predict", trained["ckpt"], 3]
    code, out, err = run([*argv, "--data-dir", only_test], capsys)
    assert code == 0, err
    assert sorted(p.name for p in only_test.iterdir()) == sorted([data.TEST_IMAGES,
                                                                  data.TEST_LABELS])


# ------------------------------------------------------------------ resume


def test_resume_equals_uninterrupted(fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    common = [*TRAIN_ARGS, "--limit-train", 64, "--limit-test", 32, "--seed", 5,
              "--optimizer", "adam", "--lr", 0.003, "--data-dir", directory]
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    assert run(["train", *common, "--epochs", 2, "--save", a], capsys)[0] == 0
    a_bytes = a.read_bytes()
    code, out, err = run(["train", *common, "--epochs", 3, "--resume", a, "--save", b], capsys)
    assert code == 0, err
    assert "epochs 3..3" in out and "epoch 1/3" not in out  # only the missing epoch ran
    assert a.read_bytes() == a_bytes  # the resumed-from checkpoint is left alone
    assert run(["train", *common, "--epochs", 3, "--save", c], capsys)[0] == 0

    pb, pc = npz_params(b), npz_params(c)
    assert sorted(pb) == sorted(pc) == ["param/0.b", "param/0.w", "param/4.b", "param/4.w"]
    for name in pc:
        assert pb[name].dtype == pc[name].dtype and pb[name].tobytes() == pc[name].tobytes(), \
            name
    assert not np.array_equal(npz_params(a)["param/0.w"], pc["param/0.w"])  # epoch 3 counts
    hb, hc = (load_checkpoint(p)[2]["history"] for p in (b, c))
    strip = ("seconds", "eval_seconds", "images_per_second", "load")  # differ run to run
    assert [{k: v for k, v in h.items() if k not in strip} for h in hb] == \
        [{k: v for k, v in h.items() if k not in strip} for h in hc]


def test_the_documented_resume_command_after_a_limited_run(fake_mnist, tmp_path, capsys):
    """docs/cnn.md's `train --epochs 10 --resume lenet.npz --save lenet.npz` after a run with
    --limit-train said "trained on 64 images, not 256: resume with the same --limit-train"
    (issue 23): a resumed run takes the checkpoint's image counts, test ones included."""
    directory, _ = fake_mnist
    ckpt = tmp_path / "m.npz"
    assert run(["train", *TRAIN_ARGS, "--limit-train", 64, "--limit-test", 32, "--epochs", 1,
                "--data-dir", directory, "--save", ckpt], capsys)[0] == 0
    code, out, err = run(["train", "--no-progress", "--epochs", 2, "--resume", ckpt, "--save",
                          ckpt, "--data-dir", directory], capsys)
    assert code == 0, err
    assert "on 64 images, testing on 32; epochs 2..2" in out
    # a different count given on purpose is still refused
    code, _, err = run(["train", "--no-progress", "--epochs", 3, "--resume", ckpt,
                        "--limit-train", 128, "--data-dir", directory], capsys)
    assert_one_line_error(code, err, "trained on 64 images, not 128")


def test_resume_with_nothing_left_to_do(trained, fake_mnist, tmp_path, capsys):
    """It says only what happened: one line, no "saved ..." for a file it did not write
    (issue 17, finding 15), and it writes none of the outputs."""
    directory, _ = fake_mnist
    before = trained["ckpt"].read_bytes()
    outputs = [tmp_path / "copy.npz", tmp_path / "m.json", tmp_path / "c.png"]
    code, out, err = run(["train", "--epochs", 2, "--resume", trained["ckpt"], "--limit-train",
                          200, "--limit-test", 10, "--no-progress", "--data-dir", directory,
                          "--save", outputs[0], "--metrics-json", outputs[1],
                          "--plot", outputs[2]], capsys)
    assert code == 0, err
    assert out.splitlines() == [f"{trained['ckpt']} already has 2 epochs; nothing to do "
                                "(train more with --epochs above 2); no file written"]
    assert trained["ckpt"].read_bytes() == before
    assert not any(path.exists() for path in outputs)


def test_resume_on_other_training_data_is_refused(trained, fake_mnist, tmp_path, capsys):
    """A different --limit-train changes the shuffling permutation: not a continuation."""
    directory, _ = fake_mnist
    before = trained["ckpt"].read_bytes()
    code, out, err = run(["train", "--epochs", 3, "--resume", trained["ckpt"], "--limit-train",
                          256, "--no-progress", "--data-dir", directory], capsys)
    assert code == 2
    assert "trained on 200 images, not 256" in err and len(err.strip().splitlines()) == 1
    assert trained["ckpt"].read_bytes() == before


def test_resume_takes_the_checkpoints_backend(fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    ckpt = tmp_path / "numba.npz"
    common = ["--arch", "tiny", "--limit-train", 64, "--limit-test", 32, "--no-progress",
              "--data-dir", directory, "--save", ckpt]
    assert run(["train", "--epochs", 1, "--backend", "numba", *common], capsys)[0] == 0
    code, out, err = run(["train", "--epochs", 2, "--resume", ckpt, *common], capsys)
    assert code == 0, err
    assert "with backend numba" in out


def test_resume_with_auto_adopts_the_saved_choices(fake_mnist, tmp_path, capsys, monkeypatch):
    """auto's per-layer choices are saved in the checkpoint and adopted on resume, so no
    layer switches algorithm (and rounding) at the stop: here the saved choices are rewritten
    to 'strided', which the resumed run must then use."""
    import kernels.backends.auto as auto

    monkeypatch.setattr(auto, "_decisions", {})
    directory, _ = fake_mnist
    ckpt = tmp_path / "auto.npz"
    common = ["--arch", "tiny", "--limit-train", 64, "--limit-test", 32, "--no-progress",
              "--data-dir", directory, "--save", ckpt]
    assert run(["train", "--epochs", 1, "--backend", "auto", *common], capsys)[0] == 0
    with np.load(ckpt) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["meta"]))
    assert meta["backend"] == "auto" and meta["auto_decisions"]
    meta["auto_decisions"] = {key: "strided" for key in meta["auto_decisions"]}
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(ckpt, **arrays)
    monkeypatch.setattr(auto, "_decisions", {})
    assert run(["train", "--epochs", 2, "--resume", ckpt, *common], capsys)[0] == 0
    chosen = {key: auto.decisions()[key]["backend"] for key in meta["auto_decisions"]}
    assert set(chosen.values()) == {"strided"}


def _tampered_copy(ckpt, tmp_path, change):
    """A copy of a checkpoint whose metadata JSON was edited by change(meta)."""
    with np.load(ckpt) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    out = tmp_path / "tampered.npz"
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize("command, change", [
    ("evaluate", lambda m: m.update(dtype="float16")),
    ("resume", lambda m: m["config"].update(arch="resnet")),
    ("resume", lambda m: m["config"].update(dtype="float16")),
], ids=["evaluate-float16", "resume-unknown-arch", "resume-float16"])
def test_well_formed_checkpoint_with_impossible_settings(trained, fake_mnist, tmp_path,
                                                         capsys, command, change):
    directory, _ = fake_mnist
    bad = _tampered_copy(trained["ckpt"], tmp_path, change)
    args = (["evaluate", bad, "--data-dir", directory] if command == "evaluate" else
            ["train", "--epochs", 3, "--resume", bad, "--limit-train", 200, "--no-progress",
             "--data-dir", directory])
    code, out, err = run(args, capsys)
    assert code == 2 and str(bad) in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ bad input


ARG_ERRORS = {
    "backend": (["--backend", "cudnn"], ["--backend", "invalid choice: 'cudnn'"]),
    "arch": (["--arch", "resnet50"], ["--arch", "invalid choice: 'resnet50'"]),
    "optimizer": (["--optimizer", "rmsprop"], ["--optimizer", "invalid choice: 'rmsprop'"]),
    "epochs-zero": (["--epochs", "0"], ["--epochs", "epochs must be a positive integer, got 0"]),
    "epochs-negative": (["--epochs", "-2"], ["--epochs", "must be a positive integer"]),
    "epochs-text": (["--epochs", "two"], ["--epochs", "'two' is not a valid int"]),
    "epochs-float": (["--epochs", "1.5"], ["--epochs", "not a valid int"]),
    "batch-zero": (["--batch-size", "0"], ["--batch-size", "must be a positive integer"]),
    "batch-text": (["--batch-size", "many"], ["--batch-size", "not a valid int"]),
    "lr-zero": (["--lr", "0"], ["--lr", "must be a positive number"]),
    "lr-negative": (["--lr", "-0.1"], ["--lr", "must be a positive number"]),
    "lr-text": (["--lr", "fast"], ["--lr", "'fast' is not a valid float"]),
    "lr-nan": (["--lr", "nan"], ["--lr", "must be a positive number"]),
    "lr-inf": (["--lr", "inf"], ["--lr", "must be a positive number"]),
    "lr-decay": (["--lr-decay", "1.5"], ["--lr-decay", "in (0, 1]"]),
    "momentum": (["--momentum", "1"], ["--momentum", "in [0, 1)"]),
    "limit": (["--limit-train", "0"], ["--limit-train", "positive integer"]),
    "dtype": (["--dtype", "float16"], ["--dtype", "invalid choice"]),
}


@pytest.mark.parametrize("case", list(ARG_ERRORS))
def test_bad_train_arguments(case, fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    extra, words = ARG_ERRORS[case]
    code, out, err = run(["train", "--arch", "tiny", "--data-dir", directory, "--save",
                          tmp_path / "x.npz", "--metrics-json", tmp_path / "m.json",
                          *extra], capsys)
    assert_one_line_error(code, err, *words)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("argv,words", [
    ([], ["command"]),
    (["fit"], ["invalid choice: 'fit'"]),
    (["evaluate"], ["model"]),
    (["predict", "m.npz"], ["IMAGE"]),
    (["evaluate", "m.npz", "--backend", "gpu"], ["invalid choice: 'gpu'"]),
], ids=["no-command", "unknown-command", "evaluate-no-model", "predict-no-image",
        "evaluate-backend"])
def test_bad_commands(argv, words, tmp_path, capsys):
    code, out, err = run(argv, capsys)
    assert_one_line_error(code, err, *words)


def copy_data(fake_dir, target):
    directory, _ = fake_dir
    shutil.copytree(directory, target)
    return target


def break_file(kind, d, test=False):
    """Damage the data directory d's training files (its test files with `test`: evaluate
    reads only those); returns (the damaged file, whether the OFFICIAL table must be
    re-patched so the MD5 passes and the parser sees the damage)."""
    images, labels = (d / data.TEST_IMAGES, d / data.TEST_LABELS) if test else \
        (d / data.TRAIN_IMAGES, d / data.TRAIN_LABELS)
    count = FAKE_TEST if test else FAKE_TRAIN
    if kind == "corrupt-gzip":
        raw = images.read_bytes()
        images.write_bytes(raw[:len(raw) // 2])  # truncated download
        return images, True
    if kind == "not-gzip":
        images.write_bytes(b"<html>404 Not Found</html>\n")
        return images, True
    if kind == "bad-magic":
        header = bytes([1, 0, 8, 1]) + np.array([count], ">u4").tobytes()
        labels.write_bytes(gzip.compress(header + bytes(count)))
        return labels, True
    if kind == "wrong-md5":  # a valid IDX file that is not the official one
        idx.write_idx(labels, np.zeros(count, np.uint8))
        return labels, False
    if kind == "count-mismatch":
        idx.write_idx(labels, np.zeros(count - 1, np.uint8))
        return labels, True
    raise AssertionError(kind)


DATA_ERRORS = {
    "corrupt-gzip": lambda n: ["not a valid gzip file"],
    "not-gzip": lambda n: ["not a valid gzip file"],
    "bad-magic": lambda n: ["bad IDX magic"],
    "wrong-md5": lambda n: ["has md5", "expected"],
    "count-mismatch": lambda n: [f"has {n} images but", f"has {n - 1} labels"],
}


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("kind", list(DATA_ERRORS))
def test_bad_data(kind, command, fake_dir, trained, tmp_path, monkeypatch, capsys):
    d = copy_data(fake_dir, tmp_path / "data")
    monkeypatch.setattr(data, "OFFICIAL", official_table_for(d))
    damaged, repatch = break_file(kind, d, test=command == "evaluate")
    if repatch:
        monkeypatch.setattr(data, "OFFICIAL", official_table_for(d))
    before = listing(tmp_path)
    if command == "train":
        argv = ["train", *TRAIN_ARGS, "--epochs", 1, "--data-dir", d, "--save",
                tmp_path / "x.npz", "--metrics-json", tmp_path / "m.json", "--plot",
                tmp_path / "p.png"]
    else:
        argv = ["evaluate", trained["ckpt"], "--data-dir", d]
    code, out, err = run(argv, capsys)
    assert_one_line_error(code, err, str(damaged),
                          *DATA_ERRORS[kind](FAKE_TEST if command == "evaluate" else FAKE_TRAIN))
    assert listing(tmp_path) == before  # nothing written, the bad file not deleted either
    assert "epoch 1/1" not in out


def bad_checkpoint(kind, tmp_path, good):
    """A checkpoint path that cannot be used; `good` is a real checkpoint to damage."""
    path = tmp_path / f"{kind}.npz"
    if kind == "garbage":
        path.write_bytes(b"\x00garbage" * 100)
    elif kind == "truncated":
        raw = good.read_bytes()
        path.write_bytes(raw[:len(raw) * 2 // 3])
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        assert kind == "missing"
    return path


@pytest.mark.parametrize("kind,words", [
    ("garbage", ["unreadable"]),
    ("truncated", ["unreadable"]),
    ("npy", []),  # a plain .npy array (np.save) instead of an .npz archive
    ("missing", ["does not exist"]),
], ids=["garbage", "truncated", "npy", "missing"])
@pytest.mark.parametrize("command", ["resume", "evaluate", "predict"])
def test_unreadable_checkpoints(kind, words, command, trained, fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    path = bad_checkpoint(kind, tmp_path, trained["ckpt"])
    before = listing(tmp_path)
    argv = {"resume": ["train", *TRAIN_ARGS, "--epochs", 3, "--resume", path,
                       "--save", tmp_path / "out.npz", "--data-dir", directory],
            "evaluate": ["evaluate", path, "--data-dir", directory],
            "predict": ["predict", path, "0", "--data-dir", directory]}[command]
    code, out, err = run(argv, capsys)
    assert_one_line_error(code, err, str(path), *words)
    assert listing(tmp_path) == before


def test_resume_with_another_architecture(trained, fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    code, out, err = run(["train", "--arch", "lenet5", "--epochs", 3, "--no-progress",
                          "--resume", trained["ckpt"], "--save", tmp_path / "out.npz",
                          "--data-dir", directory], capsys)
    assert_one_line_error(code, err, str(trained["ckpt"]), "arch='tiny'", "lenet5")
    assert listing(tmp_path) == []


@pytest.mark.parametrize("flag", ["--save", "--metrics-json", "--plot"])
def test_output_into_a_missing_directory(flag, fake_mnist, tmp_path, capsys):
    directory, _ = fake_mnist
    target = tmp_path / "no" / "such" / "out.file"
    code, out, err = run(["train", *TRAIN_ARGS, "--epochs", 1, "--data-dir", directory,
                          flag, target], capsys)
    assert_one_line_error(code, err, str(target), "does not exist")
    assert "epoch 1/1" not in out  # rejected before any training
    assert listing(tmp_path) == []


@pytest.mark.parametrize("flag", ["--save", "--metrics-json", "--plot"])
def test_output_onto_an_existing_directory(flag, fake_mnist, tmp_path, capsys):
    """An output path that names a directory cannot be written either: one-line error,
    exit code 2, the directory untouched."""
    directory, _ = fake_mnist
    target = tmp_path / "results"
    target.mkdir()
    code, out, err = run(["train", *TRAIN_ARGS, "--epochs", 1, "--limit-train", 16,
                          "--limit-test", 8, "--data-dir", directory, flag, target], capsys)
    assert_one_line_error(code, err, str(target))
    assert listing(tmp_path) == ["results"]


# ------------------------------------------------------------------ python -m cnn


def python_m_cnn(args, cwd, env_update=None):
    env = dict(os.environ)
    env.pop("MNIST_DIR", None)
    env.update(env_update or {})
    # The package is installed editable; PYTHONPATH also covers running from a checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "cnn", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,words", [
    (["train", "--backend", "cudnn"], ["invalid choice: 'cudnn'"]),
    (["train", "--epochs", "0"], ["must be a positive integer"]),
    (["evaluate", "missing.npz"], ["missing.npz", "does not exist"]),
    (["train", "--save", "nowhere/x.npz"], ["nowhere", "does not exist"]),
], ids=["backend", "epochs", "missing-checkpoint", "save-dir"])
def test_subprocess_errors(args, words, tmp_path):
    result = python_m_cnn(args, tmp_path)
    assert_one_line_error(result.returncode, result.stderr, *words)
    assert result.stdout == ""
    assert listing(tmp_path) == []


def test_subprocess_rejects_unofficial_data(fake_dir, tmp_path):
    """Without the test's monkeypatch the fake files are not official: the real CLI refuses
    them (MD5 check) instead of training on them."""
    directory, _ = fake_dir
    result = python_m_cnn(["train", "--arch", "tiny", "--epochs", "1", "--no-progress",
                           "--data-dir", directory, "--save", "x.npz"], tmp_path)
    assert_one_line_error(result.returncode, result.stderr, "has md5", "expected")
    assert listing(tmp_path) == []


# ------------------------------------------------------------------ real MNIST


@pytest.mark.skipif(not os.environ.get("MNIST_DIR"), reason="MNIST_DIR is not set")
def test_real_mnist_tiny_one_epoch(tmp_path):
    """tiny (one 3x3 conv layer, 8 filters) after 63 Adam steps on 2000 real images.

    Expected accuracy: 86-90 % on the first 500 test images over seeds 0-3 (measured), so
    the 80 % threshold (with seed 0 fixed) sits > 3 binomial standard errors (sqrt(.86*.14/500)
    = 1.6 %) below it; broken data (misaligned labels, wrong normalisation) or a broken
    backward gives ~10-30 %. Augmentation is off (--shift 0): random shifts slow a model
    this small down in its first epoch (81-82 % measured), which is not what this checks.
    Runs `python -m cnn` for real, reading MNIST_DIR from the environment like CI, with the
    real MD5 table."""
    result = python_m_cnn(["train", "--arch", "tiny", "--epochs", 1, "--limit-train", 2000,
                           "--limit-test", 500, "--batch-size", 32, "--lr", 0.003, "--seed", 0,
                           "--shift", 0, "--no-progress", "--metrics-json", "m.json",
                           "--save", "m.npz"],
                          tmp_path, {"MNIST_DIR": os.environ["MNIST_DIR"]})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert (metrics["train_samples"], metrics["test_samples"]) == (2000, 500)
    assert metrics["test_accuracy"] > 0.80, metrics["test_accuracy"]
    assert listing(tmp_path) == ["m.json", "m.npz"]

    mnist = data.load_mnist(os.environ["MNIST_DIR"], download=False)
    accuracy, confusion = evaluate(load_model(tmp_path / "m.npz"),
                                   prepare_images(mnist.test_images[:500]),
                                   mnist.test_labels[:500].astype(np.intp))
    assert accuracy == metrics["test_accuracy"] and confusion.sum() == 500
