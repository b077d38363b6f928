"""Checkpoints: round trip, resume == uninterrupted, refusal of files that do not fit, error
handling of corrupt files and atomic writes."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict

import numpy as np
import pytest

import kernels
from cnn import checkpoint
from cnn.checkpoint import CheckpointError, load_checkpoint, load_into, save_checkpoint
from cnn.data import prepare_images
from cnn.model import build_model
from cnn.train import TrainConfig, evaluate, new_state, resume_state, save_state, train_epoch
from cnn_helpers import listing

# ------------------------------------------------------------------ checkpoints

BACKEND = kernels.get_backend("im2col")


def run_epochs(state, x, labels, upto):
    """Train until `upto` epochs are done, recording the history as the CLI does."""
    while state.epochs_done < upto:
        loss, accuracy, seconds = train_epoch(state, x, labels)
        test_accuracy, _ = evaluate(state.model, x, labels)
        state.history.append(dict(epoch=state.epochs_done, train_loss=loss,
                                  train_accuracy=accuracy, test_accuracy=test_accuracy,
                                  seconds=seconds, lr=state.optimizer.lr))
    return state


def without_timing(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.fixture(scope="module")
def small_data():
    # Random images and labels: nothing to learn, but every batch moves the parameters.
    rng = np.random.default_rng(30)
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    return prepare_images(images), rng.integers(0, 10, 40).astype(np.intp)


def assert_same_state(a, b):
    pa, pb = a.model.state_dict(), b.model.state_dict()
    assert list(pa) == list(pb)
    for name in pa:
        assert pa[name].dtype == pb[name].dtype and pa[name].tobytes() == pb[name].tobytes(), \
            name
    oa, ob = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sorted(oa) == sorted(ob) and oa
    for key in oa:
        assert np.asarray(oa[key]).tobytes() == np.asarray(ob[key]).tobytes(), key


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_save_and_resume_round_trip(tmp_path, small_data, optimizer):
    x, labels = small_data
    config = TrainConfig(arch="tiny", epochs=4, batch_size=16, optimizer=optimizer, lr=0.01,
                         lr_decay=0.8, weight_decay=1e-4, seed=3)
    state = run_epochs(new_state(config, BACKEND), x, labels, 2)
    path = tmp_path / "ckpt.npz"
    save_state(path, state, {"backend": "im2col"})
    assert listing(tmp_path) == ["ckpt.npz"]

    params, optim_state, meta = load_checkpoint(path)
    assert meta["format"] == checkpoint.FORMAT and meta["arch"] == "tiny"
    assert meta["dtype"] == "float32" and meta["backend"] == "im2col"
    assert meta["epochs_done"] == 2 and meta["config"] == asdict(config)
    assert meta["history"] == json.loads(json.dumps(state.history))
    assert meta["shuffle_rng"] == state.shuffle_rng.bit_generator.state
    for name, value in state.model.state_dict().items():
        assert params[name].dtype == value.dtype
        np.testing.assert_array_equal(params[name], value)
    for key, value in state.optimizer.state_dict().items():
        np.testing.assert_array_equal(optim_state[key], value)

    # Resuming with default settings takes all of them from the checkpoint.
    resumed = resume_state(path, TrainConfig(epochs=4), BACKEND)
    assert asdict(resumed.config) == asdict(config)
    assert resumed.epochs_done == 2 and resumed.history == state.history
    assert resumed.shuffle_rng.bit_generator.state == state.shuffle_rng.bit_generator.state
    assert_same_state(resumed, state)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("k", [1, 2])
def test_resume_equals_uninterrupted(tmp_path, small_data, optimizer, k):
    x, labels = small_data
    total = 3

    def config():
        return TrainConfig(arch="tiny", epochs=total, batch_size=16, optimizer=optimizer,
                           lr=0.01, lr_decay=0.7, seed=11)

    straight = run_epochs(new_state(config(), BACKEND), x, labels, total)
    first = run_epochs(new_state(config(), BACKEND), x, labels, k)
    path = tmp_path / "k.npz"
    save_state(path, first)
    del first
    resumed = run_epochs(resume_state(path, config(), BACKEND, explicit={"arch", "seed"}),
                         x, labels, total)
    assert resumed.epochs_done == straight.epochs_done == total
    assert_same_state(resumed, straight)
    assert len(resumed.history) == total
    assert without_timing(resumed.history) == without_timing(straight.history)
    assert resumed.shuffle_rng.bit_generator.state == straight.shuffle_rng.bit_generator.state


def test_resume_rejects_a_conflicting_explicit_setting(tmp_path, small_data):
    x, labels = small_data
    path = tmp_path / "c.npz"
    save_state(path, run_epochs(new_state(TrainConfig(arch="tiny", batch_size=16), BACKEND),
                                x, labels, 1))
    with pytest.raises(CheckpointError) as info:
        resume_state(path, TrainConfig(arch="lenet5"), BACKEND, explicit={"arch"})
    message = str(info.value)
    assert str(path) in message and "arch='tiny'" in message and "lenet5" in message
    with pytest.raises(CheckpointError, match="lr"):
        resume_state(path, TrainConfig(lr=0.5), BACKEND, explicit={"lr"})


def test_checkpoint_of_another_architecture_does_not_load(tmp_path):
    path = tmp_path / "tiny.npz"
    save_checkpoint(path, build_model("tiny", backend=BACKEND), None, {})
    params, _, meta = load_checkpoint(path)
    assert meta["arch"] == "tiny"
    for arch in ("convnet", "lenet5"):
        other = build_model(arch, backend=BACKEND)
        before = {k: v.copy() for k, v in other.state_dict().items()}
        with pytest.raises(CheckpointError) as info:
            load_into(other, params, path)
        assert str(path) in str(info.value) and arch in str(info.value)
        for name, value in other.state_dict().items():  # nothing was half-loaded
            np.testing.assert_array_equal(value, before[name])


def test_checkpoint_with_a_wrong_shape_does_not_load(tmp_path):
    path = tmp_path / "s.npz"
    model = build_model("tiny", backend=BACKEND)
    save_checkpoint(path, model, None, {})
    params, _, _ = load_checkpoint(path)
    params["4.w"] = params["4.w"][:-1]
    with pytest.raises(CheckpointError, match="shape"):
        load_into(build_model("tiny", backend=BACKEND), params, path)


def test_checkpoint_with_another_dtype_is_rejected(tmp_path):
    """Sequential.load_state_dict documents that names, shapes AND dtypes must match;
    loading float64 parameters into a float32 model must not round them silently."""
    path = tmp_path / "f64.npz"
    save_checkpoint(path, build_model("tiny", backend=BACKEND, dtype=np.float64), None, {})
    params, _, _ = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="dtype|float64"):
        load_into(build_model("tiny", backend=BACKEND, dtype=np.float32), params, path)


@pytest.fixture
def good_checkpoint(tmp_path):
    path = tmp_path / "good.npz"
    state = new_state(TrainConfig(arch="tiny"), BACKEND)
    save_state(path, state)
    return path


def corrupt_variants():
    def truncated(raw, path):
        path.write_bytes(raw[:len(raw) // 2])

    def truncated_tail(raw, path):
        path.write_bytes(raw[:-10])

    def flipped(raw, path):  # damage inside the stored arrays: the zip CRC catches it
        b = bytearray(raw)
        for i in range(len(b) // 3, len(b) // 3 + 16):
            b[i] ^= 0x5A
        path.write_bytes(bytes(b))

    def empty(raw, path):
        path.write_bytes(b"")

    def text(raw, path):
        path.write_text("this is not a checkpoint\n")

    def npy(raw, path):  # a single array saved with np.save: not an archive
        with open(path, "wb") as f:
            np.save(f, np.arange(5.0))

    def other_zip(raw, path):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "hi")

    def no_meta(raw, path):
        with open(path, "wb") as f:
            np.savez(f, **{"param/0.w": np.zeros((8, 1, 3, 3), np.float32)})

    def foreign_meta(raw, path):
        with open(path, "wb") as f:
            np.savez(f, meta=np.array(json.dumps({"format": "something-else"})))

    def meta_not_json(raw, path):
        with open(path, "wb") as f:
            np.savez(f, meta=np.array("{not json"))

    return {f.__name__: f for f in (truncated, truncated_tail, flipped, empty, text, npy,
                                    other_zip, no_meta, foreign_meta, meta_not_json)}


CORRUPT = corrupt_variants()


@pytest.mark.parametrize("kind", list(CORRUPT))
def test_bad_checkpoint_files_raise_checkpoint_error(tmp_path, good_checkpoint, kind):
    path = tmp_path / f"{kind}.npz"
    CORRUPT[kind](good_checkpoint.read_bytes(), path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    with pytest.raises(CheckpointError):
        resume_state(path, TrainConfig(), BACKEND)


def test_missing_checkpoint(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(CheckpointError, match="does not exist") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_repeated_saves_leave_only_the_checkpoint(tmp_path, small_data):
    x, labels = small_data
    state = new_state(TrainConfig(arch="tiny", batch_size=16), BACKEND)
    path = tmp_path / "run.npz"
    for _ in range(2):
        run_epochs(state, x, labels, state.epochs_done + 1)
        save_state(path, state)
        assert listing(tmp_path) == ["run.npz"]  # no .part / temp files, hidden or not
    assert load_checkpoint(path)[2]["epochs_done"] == 2


class DiskFull(OSError):
    pass


def failing_savez(file, **arrays):
    file.write(b"PK\x03\x04 partial archive")  # some bytes reach the temp file first
    raise DiskFull(28, "No space left on device")


def test_failed_write_keeps_the_good_file(tmp_path, good_checkpoint, monkeypatch):
    before = good_checkpoint.read_bytes()
    names = listing(tmp_path)
    state = new_state(TrainConfig(arch="tiny", seed=99), BACKEND)
    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError) as info:
        save_state(good_checkpoint, state)
    # The error names the checkpoint, not the hidden temporary file it failed in.
    assert info.value.errno == 28 and str(info.value) == (
        f"[Errno 28] cannot write {good_checkpoint}: No space left on device")
    assert good_checkpoint.read_bytes() == before
    assert listing(tmp_path) == names
    monkeypatch.undo()
    load_checkpoint(good_checkpoint)  # still a valid checkpoint


def test_failed_write_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    state = new_state(TrainConfig(arch="tiny"), BACKEND)
    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="cannot write .*new.npz: No space left on device"):
        save_state(tmp_path / "new.npz", state)
    assert listing(tmp_path) == []


def test_atomic_write_interrupted_by_keyboard_interrupt(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def write(f):
        f.write(b"new but incomplete")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        checkpoint.atomic_write(target, write)
    assert target.read_bytes() == b"old" and listing(tmp_path) == ["out.bin"]
    checkpoint.atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and listing(tmp_path) == ["out.bin"]
