"""Training of cnn models: backend independence (the same trajectory whatever the backend,
within rounding), determinism, and the epoch loop."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import kernels
from cnn.data import prepare_images
from cnn.layer_backends import training_problem
from cnn.model import build_model
from cnn.optim import SGD
from cnn.train import TrainConfig, evaluate, new_state, train_epoch
from cnn_helpers import blob_images

# Every usable backend, frameworks included: one that cannot train (a forward-only library) or
# cannot compute the model (e.g. float64) is skipped with its own reason.
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
    if reason := training_problem(backend_name):
        pytest.skip(reason)
    model = build_model(arch, backend=kernels.get_backend(backend_name), seed=seed,
                        dtype=dtype)
    if reason := model.unsupported():
        pytest.skip(f"{backend_name} cannot run {arch} in {dtype_name}: {reason}")
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
