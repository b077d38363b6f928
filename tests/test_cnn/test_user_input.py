"""What a new user hits: every input handed to `python -m cnn` - image files, checkpoints and
the settings inside them, data folders, thread counts - gets one line on stderr that names
the file or value, exit code 2, and leaves no file behind; interrupted or diverged runs keep
what they finished; the default run saves its model where the README's next commands look.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from cnn import checkpoint, cli, data, train
from cnn.outputs import plot_history
from cnn_helpers import assert_one_line_error, listing, run

TINY = ["--arch", "tiny", "--batch-size", "32", "--no-progress"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh current directory: the default checkpoint lands here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, fake_dir):
    """A checkpoint from one epoch of tiny on the fake data."""
    directory, _ = fake_dir
    path = tmp_path_factory.mktemp("model") / "m.npz"
    with pytest.MonkeyPatch.context() as mp:
        from cnn_helpers import official_table_for
        mp.setattr(data, "OFFICIAL", official_table_for(directory))
        assert cli.main(["train", *TINY, "--epochs", "1", "--data-dir", str(directory),
                         "--save", str(path)]) == 0
    return path


# ------------------------------------------------------------------ the default run

def test_default_run_saves_where_the_readme_looks(fake_mnist, workdir, capsys):
    """Without --save the model goes to model.npz in the current folder, the run says so,
    and `evaluate model.npz` (the README's next command) works."""
    directory, _ = fake_mnist
    code, out, err = run(["train", *TINY, "--epochs", "1", "--data-dir", directory], capsys)
    assert code == 0, err
    assert (workdir / "model.npz").is_file()
    assert "saved model.npz" in out and "python -m cnn evaluate model.npz" in out
    code, out, err = run(["evaluate", "model.npz", "--data-dir", directory, "--no-progress"],
                         capsys)
    assert code == 0 and "test accuracy" in out


def test_no_save_writes_nothing(fake_mnist, workdir, capsys):
    directory, _ = fake_mnist
    code, _, err = run(["train", *TINY, "--epochs", "1", "--data-dir", directory, "--no-save"],
                       capsys)
    assert code == 0, err
    assert listing(workdir) == []
    code, _, err = run(["train", *TINY, "--data-dir", directory, "--no-save", "--save", "x.npz"],
                       capsys)
    assert_one_line_error(code, err, "--save", "--no-save")


# ------------------------------------------------------------------ images for predict

def png_header_only(path, width, height):
    """A PNG whose header declares width x height with one tiny compressed row: Pillow
    learns the size without decoding, as it would from a real huge image."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                     chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [100, 10_000, 20_000], ids=["100", "10k-warns", "20k-bomb"])
def test_oversized_images_are_one_line_errors(model_file, tmp_path, capsys, side):
    """Pillow warns above ~89 Mpixel and raises DecompressionBombError above ~179 Mpixel;
    the size check comes first, so every oversized image gets the same line, no warning."""
    image = png_header_only(tmp_path / "big.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = run(["predict", model_file, image], capsys)
    assert_one_line_error(code, err, str(image), f"{side}x{side}", "expected 28x28")


@pytest.mark.parametrize("item, words", [
    ("²", ["²", "no such file"]),          # a Unicode digit, not an index
    ("-1", ["test index -1 out of range"]),
    ("+3x", ["+3x", "no such file"]),
])
def test_odd_image_arguments(model_file, fake_mnist, capsys, item, words):
    directory, _ = fake_mnist
    code, out, err = run(["predict", model_file, item, "--data-dir", directory], capsys)
    assert_one_line_error(code, err, *words)


def test_a_folder_or_garbage_as_image(model_file, tmp_path, capsys):
    garbage = tmp_path / "digit.png"
    garbage.write_bytes(b"not a png at all")
    code, _, err = run(["predict", model_file, garbage], capsys)
    assert_one_line_error(code, err, str(garbage), "not a readable image")
    code, _, err = run(["predict", model_file, tmp_path], capsys)
    assert_one_line_error(code, err, str(tmp_path))


# ------------------------------------------------------------------ checkpoints as input

def rewrite_meta(source, target, change):
    """A copy of checkpoint `source` whose JSON record went through change(meta)."""
    with np.load(source) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(target, "wb") as f:
        np.savez(f, **arrays)
    return target


@pytest.mark.parametrize("key, value, words", [
    ("batch_size", 0, ["batch_size must be a positive integer, got 0"]),
    ("lr", -1, ["lr must be a positive number, got -1"]),
    ("lr", "0.1", ["lr must be a positive number, got '0.1'"]),
    ("momentum", 1.0, ["momentum must be in [0, 1), got 1.0"]),
    ("shift", 1000, ["shift must be an integer from 0 to 27, got 1000"]),
    ("seed", True, ["seed must be", "got True"]),
])
def test_checkpoint_settings_obey_the_command_line_rules(model_file, fake_mnist, tmp_path,
                                                         capsys, key, value, words):
    directory, _ = fake_mnist
    bad = rewrite_meta(model_file, tmp_path / "bad.npz",
                       lambda meta: meta["config"].__setitem__(key, value))
    before = listing(tmp_path)
    code, _, err = run(["train", "--resume", bad, "--epochs", "3", "--data-dir", directory,
                        "--no-progress"], capsys)
    assert_one_line_error(code, err, str(bad), "invalid setting", *words)
    assert listing(tmp_path) == before


def test_non_finite_weights_are_refused_everywhere(model_file, fake_mnist, tmp_path, capsys):
    """A diverged run's checkpoint must not evaluate, predict or train silently into NaN."""
    directory, _ = fake_mnist
    with np.load(model_file) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["param/0.w"] = np.full_like(arrays["param/0.w"], np.nan)
    bad = tmp_path / "nan.npz"
    with open(bad, "wb") as f:
        np.savez(f, **arrays)
    for argv in (["evaluate", bad, "--data-dir", directory], ["predict", bad, "0"],
                 ["train", "--resume", bad, "--epochs", "3", "--data-dir", directory]):
        code, _, err = run(argv, capsys)
        assert_one_line_error(code, err, str(bad), "non-finite", "0.w", "diverged")


@pytest.mark.parametrize("content", [b"hello, I am a text file\n", os.urandom(4096),
                                     b"\x80\x04K\x01."], ids=["text", "random", "pickle"])
def test_files_that_are_not_archives(tmp_path, capsys, content):
    """No NumPy advice to 'load it unsafely using allow_pickle': a plain statement."""
    bad = tmp_path / "ckpt.npz"
    bad.write_bytes(content)
    code, _, err = run(["evaluate", bad], capsys)
    assert_one_line_error(code, err, str(bad), "not a convbench checkpoint")
    assert "pickle" not in err


# ------------------------------------------------------------------ interrupted runs

def test_ctrl_c_keeps_the_finished_epochs(fake_mnist, workdir, capsys, monkeypatch):
    """Ctrl-C in epoch 2: exit code 130, the checkpoint of epoch 1, and the metrics and
    curves of epoch 1, marked as interrupted."""
    directory, _ = fake_mnist
    real, calls = train.train_epoch, []

    def interrupted_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(train, "train_epoch", interrupted_in_epoch_2)
    code, out, err = run(["train", *TINY, "--epochs", "3", "--data-dir", directory,
                          "--metrics-json", "m.json", "--plot", "c.png"], capsys)
    assert code == 130 and "interrupted" in err
    metrics = json.loads((workdir / "m.json").read_text())
    assert metrics["interrupted"] is True and metrics["epochs_done"] == 1
    assert [e["epoch"] for e in metrics["epochs"]] == [1]
    assert (workdir / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert checkpoint.load_checkpoint(workdir / "model.npz")[2]["epochs_done"] == 1


def test_resuming_a_finished_one_epoch_run_says_so_in_english(model_file, fake_mnist,
                                                              workdir, capsys):
    before = model_file.read_bytes()
    code, out, err = run(["train", "--epochs", "1", "--resume", model_file], capsys)
    assert code == 0, err
    assert out == (f"{model_file} already has 1 epoch; nothing to do (train more with "
                   "--epochs above 1); no file written\n")
    assert model_file.read_bytes() == before and listing(workdir) == []


def test_a_diverging_run_stops_with_one_line(fake_mnist, workdir, capsys):
    """lr 1e6 makes the loss inf/NaN within the first epoch: the run stops there, says why,
    and writes no checkpoint of NaN weights."""
    directory, _ = fake_mnist
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow warnings before that line
        code, out, err = run(["train", *TINY, "--epochs", "2", "--lr", "1e6", "--optimizer",
                              "sgd", "--data-dir", directory], capsys)
    assert_one_line_error(code, err, "diverged", "epoch 1", "--lr")
    assert not (workdir / "model.npz").exists()


def test_a_killed_writer_leaves_no_part_file_behind(tmp_path):
    """A kill -9 during a save leaves a hidden .part file; the next save of the same file
    removes it (its process is gone), and never one of a live process."""
    from kernels.support.files import atomic_write

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".m.npz.pid{int(dead.stdout)}.abc123.part"
    live = tmp_path / f".m.npz.pid{os.getppid()}.def456.part"
    stale.touch()
    live.touch()
    atomic_write(tmp_path / "m.npz", lambda f: f.write(b"data"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "m.npz"])


# ------------------------------------------------------------------ data folders, threads

def test_failed_download_leaves_no_empty_data_folder(workdir, capsys, monkeypatch):
    """A relative MNIST_DIR that does not exist is created for the download and removed
    again when every mirror fails."""
    monkeypatch.setenv("MNIST_DIR", "nested/mnist")
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))  # the discard port
    code, _, err = run(["train", *TINY, "--no-save"], capsys)
    assert_one_line_error(code, err, "cannot download", "nested/mnist")
    assert listing(workdir) == []


def test_a_given_data_folder_is_not_answered_with_pass_data_dir(workdir, capsys, monkeypatch):
    """The user named the folder: the error names it and says what to put there, not 'pass
    --data-dir' (issue 17, finding 19)."""
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))  # the discard port
    (workdir / "given").mkdir()
    code, _, err = run(["train", *TINY, "--no-save", "--data-dir", "given"], capsys)
    assert_one_line_error(code, err, "cannot download", "into given")
    assert "--data-dir" not in err and "MNIST_DIR" not in err


@pytest.mark.parametrize("command", [["train", *TINY, "--no-save"], ["evaluate", "m.npz"]])
def test_a_mistyped_data_folder_is_no_such_folder_not_a_download(workdir, capsys, monkeypatch,
                                                                  command):
    """`--data-dir /data/mnsit` was answered "cannot download ... (no mirror worked)", after
    creating the folder to download into (issue 23): a folder the user names must exist."""
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))  # never reached
    (workdir / "file").write_text("")
    for given, words in (("mnsit", ["no such folder", "mnsit"]),
                         ("file", ["not a folder", "file"])):
        if command[0] == "evaluate":
            monkeypatch.setattr(cli, "_load_model", lambda path, backend: None)
        code, _, err = run([*command, "--data-dir", given], capsys)
        assert_one_line_error(code, err, *words)
        assert "cannot download" not in err
    assert sorted(p.name for p in workdir.iterdir()) == ["file"]  # nothing created


@pytest.mark.parametrize("argv, flag", [
    (["train", "--metrics-json", ""], "--metrics-json"),
    (["train", "--plot", ""], "--plot"),
    (["train", "--save", ""], "--save"),
    (["train", "--resume", ""], "--resume"),
    (["train", "--data-dir", ""], "--data-dir"),
    (["evaluate", "m.npz", "--data-dir", ""], "--data-dir"),
    (["evaluate", ""], "model"),
    (["predict", "m.npz", ""], "IMAGE"),
])
def test_an_empty_path_is_named_as_such(argv, flag, workdir, capsys):
    """`--metrics-json ""` was refused as "cannot write .: it is a directory" (issue 17,
    finding 18): name the argument and say it is empty."""
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, f"argument {flag}", "empty path")
    assert listing(workdir) == []


@pytest.mark.parametrize("argv, words", [
    (["train", "--threads", "4096"], ["--threads", "4096 threads", "cores"]),
    (["train", "--threads", "0"], ["--threads", "positive integer"]),
    (["train", "--shift", "28"], ["--shift", "from 0 to 27"]),
    (["train", "--seed", "-1"], ["--seed", "non-negative"]),
    (["train", "--weight-decay", "-0.1"], ["--weight-decay", "non-negative"]),
])
def test_more_bad_flags(argv, words, workdir, capsys):
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, *words)
    assert listing(workdir) == []


# ------------------------------------------------------------------ help and outputs

def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("default auto", "default convnet", "(default 8)", "default 64", "default adam",
                  "default 0.001", "default 0.7", "default 0.9", "default 0.0", "default 1",
                  "default 0;", "default float32", "default model.npz"):
        assert shown in text, shown


def test_metrics_record_every_setting_and_the_versions(fake_mnist, workdir, capsys):
    import numba

    directory, _ = fake_mnist
    code, _, err = run(["train", *TINY, "--epochs", "1", "--data-dir", directory, "--shift",
                        "2", "--momentum", "0.5", "--weight-decay", "0.01", "--metrics-json",
                        "m.json", "--no-save"], capsys)
    assert code == 0, err
    metrics = json.loads(Path("m.json").read_text())
    assert (metrics["shift"], metrics["momentum"], metrics["weight_decay"]) == (2, 0.5, 0.01)
    assert metrics["epochs_planned"] == 1 and metrics["interrupted"] is False
    env = metrics["environment"]
    assert env["numpy"] == np.__version__ and env["numba"] == numba.__version__
    assert env["python"] and env["cpu"] and "convbench" in env
    fingerprint = env["fingerprint"]  # the machine the seconds describe
    assert fingerprint["id"] and fingerprint["peak"]["float32"]["gflops"] > 0
    assert fingerprint["isa"] is not None and fingerprint["vector_bits"] in (128, 256, 512)


def test_metrics_record_scipy_torch_and_blas_as_strict_json(fake_mnist, workdir, capsys):
    """The README says "the library versions": scipy (the fft backend), torch when installed,
    and the BLAS behind every GEMM (issue 17, finding 18); strict JSON that jq reads."""
    import scipy
    from importlib.metadata import PackageNotFoundError, version

    directory, _ = fake_mnist
    code, _, err = run(["train", *TINY, "--epochs", "1", "--limit-train", "64",
                        "--limit-test", "32", "--data-dir", directory, "--backend", "im2col",
                        "--metrics-json", "m.json", "--no-save"], capsys)
    assert code == 0, err

    def not_json(token):
        raise ValueError(f"{token} is not JSON")
    env = json.loads(Path("m.json").read_text(), parse_constant=not_json)["environment"]
    assert env["scipy"] == scipy.__version__
    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = None
    assert env["torch"] == torch
    assert any(lib["version"] for lib in env["blas"]), env["blas"]
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return
    assert {lib["internal_api"] for lib in env["blas"]} >= \
        {i["internal_api"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_curves_have_a_title(fake_mnist, workdir, monkeypatch):
    """The PNG says what was trained: architecture, backend and final accuracy."""
    import matplotlib.figure

    titles = []
    real = matplotlib.figure.Figure.savefig

    def spy(fig, *args, **kwargs):
        titles.append(fig._suptitle.get_text())
        return real(fig, *args, **kwargs)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    state = train.new_state(train.TrainConfig(arch="tiny"), __import__("kernels").get_backend(
        "im2col"))
    state.history = [dict(epoch=1, train_loss=0.5, train_accuracy=0.9, test_accuracy=0.875)]
    plot_history(workdir / "c.png", state)
    assert titles == ["tiny on MNIST - backend im2col, float32, adam lr 0.001, "
                      "test accuracy 87.50%"]


def test_evaluation_reports_progress():
    """evaluate() calls progress with the images done after every batch."""
    import kernels
    from cnn.model import build_model

    model = build_model("tiny", backend=kernels.get_backend("im2col"))
    seen = []
    accuracy, _ = train.evaluate(model, np.zeros((1200, 1, 28, 28), np.float32),
                                 np.zeros(1200, np.intp), batch_size=500, progress=seen.append)
    assert seen == [500, 1000, 1200]


def test_a_backend_that_cannot_run_a_layer_is_refused_naming_it(fake_mnist, model_file,
                                                                workdir, capsys):
    """winograd4x4 computes kernels up to 3x3 in float32: lenet5's 5x5 layers are refused
    before any data is read, in one line that names the layer and the reason."""
    directory, _ = fake_mnist
    code, _, err = run(["train", "--arch", "lenet5", "--backend", "winograd4x4",
                        "--data-dir", directory], capsys)
    assert_one_line_error(code, err, "winograd4x4 cannot run lenet5", "layer 0",
                          "Conv2D(1->6, 5x5", "up to 3x3")
    assert listing(workdir) == []
    code, _, err = run(["predict", model_file, "0", "--backend", "winograd2x2",
                        "--data-dir", directory], capsys)
    assert code == 0, err  # tiny's 3x3 layer: computed
