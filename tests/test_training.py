"""Training of cnn models: backend independence, determinism, the optimisers (against
torch.optim where available), the learning-rate schedule and checkpoints (round trip,
resume == uninterrupted, error handling, atomic writes)."""

from __future__ import annotations

import functools
import json
import zipfile
from dataclasses import asdict

import numpy as np
import pytest

import kernels
from cnn import checkpoint
from cnn.checkpoint import CheckpointError, load_checkpoint, load_into, save_checkpoint
from cnn.model import build_model
from cnn.optim import SGD, Adam, learning_rate, make_optimizer
from cnn.train import (TrainConfig, evaluate, new_state, prepare_images, resume_state,
                       save_state, train_epoch)
from cnn_helpers import blob_images, listing

BACKENDS = kernels.available()

# ------------------------------------------------------------------ backend swap
#
# The same model (same seed) trained on the same batches with the same optimiser must follow
# the same trajectory whatever the convolution backend: backends differ only in summation
# order, i.e. in rounding.
#
# Tolerances. Every gradient entry is a sum of at most K ~ 1e4 rounded terms (K = N*Ho*Wo
# for a conv weight gradient: 16*26*26 = 10816 for tiny), so two backends' gradients differ
# by at most ~K*eps relative per step (Higham's bound; typically sqrt(K)*eps):
#   float64: K*eps ~ 1e4 * 1.1e-16 ~ 1e-12 worst case per step. SGD with momentum is
#            Lipschitz in g (an error in g moves p by lr/(1-momentum) * error), so after
#            <= 30 steps the differences stay ~1e-11 even if every step hit the worst case.
#            rtol = 1e-9 leaves a factor ~100 over that (the observed ~1e-15 is far below),
#            while a wrong gradient term moves the parameters by ~lr*|g| ~ 1e-3 relative.
#   float32: sqrt(K)*eps32 ~ 100 * 6e-8 ~ 6e-6 per step typically, K*eps ~ 6e-4 in the
#            worst case; rtol = 1e-4 is ~100x the observed ~1e-6 and still 10x below a
#            single wrong step.
# Parameters are compared per tensor with atol = rtol * max|tensor| (entries that are ~0
# have no meaningful relative error). SGD with momentum is used, not Adam: Adam divides by
# sqrt(v), which turns the rounding noise of gradient entries that are ~0 into O(lr) steps,
# so its trajectories diverge by far more than the rounding that caused it.
RTOL64, RTOL32 = 1e-9, 1e-4


@functools.lru_cache(maxsize=None)
def trajectory(arch, backend_name, dtype_name, batch, steps, seed=0):
    """(losses, final params) of `steps` SGD-momentum steps on random images and labels.

    Random (unlearnable) data keeps the loss O(1) for the whole run, so relative loss
    comparisons stay meaningful (a loss -> 1e-6 would be dominated by its own rounding)."""
    dtype = np.dtype(dtype_name)
    model = build_model(arch, backend=kernels.get_backend(backend_name), seed=seed,
                        dtype=dtype)
    initial = {k: v.copy() for k, v in model.state_dict().items()}
    optimizer = SGD(lr=0.01, momentum=0.9)
    # Separate streams: a shorter run sees a prefix of a longer run's batches.
    x = np.random.default_rng(1000 + batch).standard_normal(
        (steps, batch, 1, 28, 28)).astype(dtype)
    labels = np.random.default_rng(2000 + batch).integers(0, 10, (steps, batch))
    losses = []
    for step in range(steps):
        loss, _ = model.loss_and_grads(x[step], labels[step])
        optimizer.step(model.parameters())
        losses.append(loss)
    final = {k: v.copy() for k, v in model.state_dict().items()}
    # Non-vacuous: training moved every parameter tensor.
    for name in final:
        assert not np.array_equal(final[name], initial[name]), name
    return np.array(losses), final


def assert_same_trajectory(got, ref, rtol):
    (losses, params), (ref_losses, ref_params) = got, ref
    np.testing.assert_allclose(losses, ref_losses, rtol=rtol, atol=0, err_msg="losses")
    assert list(params) == list(ref_params)
    for name, ref_value in ref_params.items():
        assert params[name].dtype == ref_value.dtype, name
        np.testing.assert_allclose(params[name], ref_value, rtol=rtol,
                                   atol=rtol * np.abs(ref_value).max(), err_msg=name)


# tiny against naive: a short run, because naive costs ~0.1 s per image per step.
@pytest.mark.parametrize("backend_name", [b for b in BACKENDS if b != "naive"])
def test_backend_swap_tiny_matches_naive(backend_name):
    ref = trajectory("tiny", "naive", "float64", 4, 4)
    assert_same_trajectory(trajectory("tiny", backend_name, "float64", 4, 4), ref, RTOL64)


# Longer runs and the bigger architectures against im2col (itself checked against naive
# above and by the kernel suite).
LONG_RUNS = {"tiny": (16, 30), "convnet": (8, 6), "lenet5": (8, 4)}


@pytest.mark.parametrize("backend_name", [b for b in BACKENDS if b not in ("naive", "im2col")])
@pytest.mark.parametrize("arch", list(LONG_RUNS))
def test_backend_swap_long_runs_match_im2col(arch, backend_name):
    batch, steps = LONG_RUNS[arch]
    ref = trajectory(arch, "im2col", "float64", batch, steps)
    assert_same_trajectory(trajectory(arch, backend_name, "float64", batch, steps), ref,
                           RTOL64)


@pytest.mark.parametrize("backend_name", [b for b in BACKENDS if b != "im2col"])
def test_backend_swap_float32(backend_name):
    batch, steps = (4, 3) if backend_name == "naive" else (16, 20)
    ref = trajectory("tiny", "im2col", "float32", batch, steps)
    got = trajectory("tiny", backend_name, "float32", batch, steps)
    assert got[1]["0.w"].dtype == np.float32
    assert_same_trajectory(got, ref, RTOL32)


def test_trajectory_tolerances_detect_a_single_missing_step():
    """Non-vacuity of RTOL32 (and so of RTOL64): the parameters after 19 and after 20
    steps of the same run - one SGD step apart - are told apart."""
    short = trajectory("tiny", "im2col", "float32", 16, 19)
    full = trajectory("tiny", "im2col", "float32", 16, 20)
    np.testing.assert_array_equal(short[0], full[0][:19])  # same batches, same start
    with pytest.raises(AssertionError):
        assert_same_trajectory((full[0], short[1]), full, RTOL32)


def test_initial_parameters_do_not_depend_on_the_backend():
    states = [build_model("convnet", backend=kernels.get_backend(b), seed=5).state_dict()
              for b in ("naive", "im2col")]
    for name in states[0]:
        np.testing.assert_array_equal(states[0][name], states[1][name])


# ------------------------------------------------------------------ determinism


def blob_data(n, seed, dtype=np.float32):
    images, labels = blob_images(n, np.random.default_rng(seed))
    return prepare_images(images, np.dtype(dtype).type), labels.astype(np.intp)


def train_from_scratch(config, epochs, x, labels, backend_name="im2col"):
    state = new_state(config, kernels.get_backend(backend_name))
    for _ in range(epochs):
        train_epoch(state, x, labels)
    return state


def test_same_seed_same_backend_is_bitwise_reproducible():
    x, labels = blob_data(48, 1)
    config = dict(arch="tiny", batch_size=16, optimizer="adam", lr=3e-3, seed=7)
    a = train_from_scratch(TrainConfig(**config), 2, x, labels)
    b = train_from_scratch(TrainConfig(**config), 2, x, labels)
    initial = build_model("tiny", backend=kernels.get_backend("im2col"), seed=7).state_dict()
    for name, value in a.model.state_dict().items():
        assert value.tobytes() == b.model.state_dict()[name].tobytes(), name
        assert not np.array_equal(value, initial[name]), f"{name} never trained"


def test_different_seeds_give_different_initial_parameters():
    backend = kernels.get_backend("im2col")
    a = build_model("lenet5", backend=backend, seed=0).state_dict()
    b = build_model("lenet5", backend=backend, seed=1).state_dict()
    c = build_model("lenet5", backend=backend, seed=0).state_dict()
    for name in a:
        np.testing.assert_array_equal(a[name], c[name])
        if name.endswith(".w"):
            # Independent N(0, s^2) draws: no two of the >= 150 entries should coincide.
            assert not np.any(a[name] == b[name]), name
        else:
            np.testing.assert_array_equal(a[name], 0)  # biases start at zero


def test_different_seeds_shuffle_differently():
    x, labels = blob_data(32, 2)
    orders = []
    for seed in (0, 1):
        state = new_state(TrainConfig(arch="tiny", seed=seed), kernels.get_backend("im2col"))
        orders.append(state.shuffle_rng.permutation(32))
    assert sorted(orders[0]) == list(range(32))
    assert not np.array_equal(orders[0], orders[1])


# ------------------------------------------------------------------ optimisers


def gradient_sequence(shapes, steps, scale, seed):
    rng = np.random.default_rng(seed)
    return [[scale * rng.standard_normal(s) for s in shapes] for _ in range(steps)]


def run_ours(optimizer, initial, grads):
    params = [p.copy() for p in initial]
    history = []
    for step_grads in grads:
        optimizer.step([(f"p{i}", p, g) for i, (p, g) in enumerate(zip(params, step_grads))])
        history.append([p.copy() for p in params])
    return history


def run_torch(torch, make, initial, grads):
    params = [torch.tensor(p.copy(), dtype=torch.float64, requires_grad=True) for p in initial]
    optimizer = make(params)
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


SHAPES = [(3, 4), (5,)]
STEPS = 25


def compare_with_torch(ours, theirs, initial, rtol):
    """Compare the displacement p_t - p_0 after every step: it is what the optimiser
    computes, and comparing it (not p_t) keeps the check sensitive when steps are tiny."""
    for t, (a, b) in enumerate(zip(ours, theirs)):
        for i, (pa, pb, p0) in enumerate(zip(a, b, initial)):
            np.testing.assert_allclose(pa - p0, pb - p0, rtol=rtol,
                                       atol=rtol * np.abs(pb - p0).max(),
                                       err_msg=f"step {t + 1}, parameter {i}")


@pytest.mark.parametrize("momentum", [0.9, 0.0])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_sgd_matches_torch(momentum, weight_decay):
    torch = pytest.importorskip("torch")
    initial = [np.random.default_rng(20).standard_normal(s) for s in SHAPES]
    grads = gradient_sequence(SHAPES, STEPS, 1.0, 21)
    ours = run_ours(SGD(lr=0.05, momentum=momentum, weight_decay=weight_decay), initial, grads)
    theirs = run_torch(torch, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=momentum,
                                                         weight_decay=weight_decay),
                       initial, grads)
    # Same formula, float64 both: they differ at most by per-step rounding (a few ulps,
    # e.g. fused multiply-adds in torch's kernels), accumulated over 25 steps -> ~1e-14.
    compare_with_torch(ours, theirs, initial, rtol=1e-12)


# Gradient scale 1 is the usual regime; 1e-7 is where Adam's eps (1e-8) matters, and a
# gradient of that size is common late in training or for rarely active units.
@pytest.mark.parametrize("scale", [1.0, 1e-7], ids=["grad~1", "grad~1e-7"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_matches_torch(scale, weight_decay):
    torch = pytest.importorskip("torch")
    initial = [np.random.default_rng(22).standard_normal(s) for s in SHAPES]
    grads = gradient_sequence(SHAPES, STEPS, scale, 23)
    ours = run_ours(Adam(lr=1e-3, weight_decay=weight_decay), initial, grads)
    theirs = run_torch(torch, lambda ps: torch.optim.Adam(ps, lr=1e-3,
                                                          weight_decay=weight_decay),
                       initial, grads)
    # Same algorithm in float64: per-step relative rounding ~10 eps, so ~1e-13 after 25
    # steps; 1e-10 is generous, and any difference in the algorithm (e.g. where eps enters
    # the denominator) shows up orders above it.
    compare_with_torch(ours, theirs, initial, rtol=1e-10)


def test_optimizers_decrease_a_quadratic():
    """Without torch: both optimisers minimise 0.5*||p - target||^2 (gradient p - target)."""
    target = np.random.default_rng(24).standard_normal(10)
    for optimizer in (SGD(lr=0.1, momentum=0.9), SGD(lr=0.1, momentum=0.0), Adam(lr=0.05)):
        p = np.zeros(10)
        losses = []
        for _ in range(300):
            losses.append(0.5 * np.sum((p - target) ** 2))
            optimizer.step([("p", p, p - target)])
        assert losses[-1] < 1e-3 * losses[0], type(optimizer).__name__


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_decreases_the_loss_on_a_tiny_problem(optimizer):
    x, labels = blob_data(64, 3)
    lr = {"sgd": 0.01, "adam": 3e-3}[optimizer]
    state = new_state(TrainConfig(arch="tiny", batch_size=16, optimizer=optimizer, lr=lr),
                      kernels.get_backend("im2col"))
    before = state.model.loss_and_grads(x, labels)[0]
    for _ in range(4):
        train_epoch(state, x, labels)
    after, logits = state.model.loss_and_grads(x, labels)
    assert after < 0.5 * before
    assert (logits.argmax(axis=1) == labels).mean() > 0.5  # chance is 0.1


def test_weight_decay_is_an_l2_penalty_on_the_gradient():
    # One SGD step without momentum on a zero gradient: p -= lr * wd * p exactly.
    p = np.array([1.0, -2.0, 4.0])
    SGD(lr=0.5, momentum=0.0, weight_decay=0.1).step([("p", p, np.zeros(3))])
    np.testing.assert_allclose(p, [0.95, -1.9, 3.8], rtol=1e-15)


def test_optimizer_state_round_trip_continues_identically():
    initial = [np.random.default_rng(25).standard_normal(s) for s in SHAPES]
    grads = gradient_sequence(SHAPES, 10, 1.0, 26)
    for make in (lambda: SGD(lr=0.05, momentum=0.9), lambda: Adam(lr=1e-2)):
        straight = run_ours(make(), initial, grads)[-1]
        first = make()
        halfway = run_ours(first, initial, grads[:4])[-1]
        state = {k: np.array(v) for k, v in first.state_dict().items()}
        second = make()
        second.load_state_dict(state)
        resumed = run_ours(second, halfway, grads[4:])[-1]
        for a, b in zip(straight, resumed):
            assert a.tobytes() == b.tobytes()


def test_make_optimizer():
    sgd = make_optimizer("sgd", lr=0.2, momentum=0.5, weight_decay=0.01)
    assert isinstance(sgd, SGD) and (sgd.lr, sgd.momentum, sgd.weight_decay) == (0.2, 0.5, 0.01)
    adam = make_optimizer("adam", lr=0.003, weight_decay=0.02)
    assert isinstance(adam, Adam) and (adam.lr, adam.weight_decay) == (0.003, 0.02)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop", lr=0.1)


def test_learning_rate_schedule_values():
    assert [learning_rate(0.1, 0.5, e) for e in range(4)] == [0.1, 0.05, 0.025, 0.0125]
    assert learning_rate(0.01, 1.0, 50) == 0.01
    assert learning_rate(1e-3, 0.7, 2) == pytest.approx(4.9e-4, rel=1e-12)


def test_train_epoch_applies_the_schedule():
    x, labels = blob_data(16, 4)
    state = new_state(TrainConfig(arch="tiny", batch_size=16, lr=0.02, lr_decay=0.5),
                      kernels.get_backend("im2col"))
    seen = []
    for _ in range(3):
        train_epoch(state, x, labels)
        seen.append(state.optimizer.lr)
    assert seen == [0.02, 0.01, 0.005]
    assert state.epochs_done == 3


def test_train_epoch_and_evaluate_report_consistent_numbers():
    x, labels = blob_data(40, 5)
    state = new_state(TrainConfig(arch="tiny", batch_size=16), kernels.get_backend("im2col"))
    progress = []
    loss, accuracy, seconds = train_epoch(state, x, labels,
                                          lambda *a: progress.append(a))
    assert [p[0] for p in progress] == [16, 32, 40]  # images seen after each batch
    assert progress[-1][1] == pytest.approx(loss) and progress[-1][2] == accuracy
    assert np.isfinite(loss) and 0 <= accuracy <= 1 and seconds >= 0
    acc, confusion = evaluate(state.model, x, labels, batch_size=7)
    predicted = state.model.forward(x).argmax(axis=1)
    assert acc == pytest.approx((predicted == labels).mean())
    assert confusion.shape == (10, 10) and confusion.sum() == 40
    assert np.trace(confusion) == (predicted == labels).sum()
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(labels, minlength=10))


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
    with pytest.raises(DiskFull):
        save_state(good_checkpoint, state)
    assert good_checkpoint.read_bytes() == before
    assert listing(tmp_path) == names
    monkeypatch.undo()
    load_checkpoint(good_checkpoint)  # still a valid checkpoint


def test_failed_write_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    state = new_state(TrainConfig(arch="tiny"), BACKEND)
    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(DiskFull):
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
