"""The optimisers: SGD with momentum and Adam against torch.optim (where installed) and on a
quadratic, weight decay, state round trips and the learning-rate schedule."""

from __future__ import annotations

import numpy as np
import pytest

from cnn.optim import SGD, Adam, learning_rate, make_optimizer


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


@pytest.mark.frameworks
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
@pytest.mark.frameworks
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
