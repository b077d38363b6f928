"""Training: the settings, the state a checkpoint holds, the epoch loop and evaluation.

Determinism: the initial parameters come from `seed`, the per-epoch shuffling from a separate
generator seeded by (seed, 1) whose state is saved in every checkpoint together with the
optimiser state and the epoch count. Resuming therefore replays exactly the batches, the
learning rates and the updates that an uninterrupted run would have made.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from kernels.support import busy

from .checkpoint import CheckpointError, load_checkpoint, load_into, save_checkpoint
from .data import random_shift
from .model import build_model
from .optim import learning_rate, make_optimizer
from .settings import RESUME_KEYS, TrainConfig, problem


class TrainingDiverged(ArithmeticError):
    """The loss stopped being a finite number: the settings (usually the learning rate) made
    the run diverge."""


@dataclass
class TrainState:
    model: object
    optimizer: object
    shuffle_rng: np.random.Generator
    config: TrainConfig
    backend: object  # the kernels backend the model computes with
    epochs_done: int = 0
    history: list = field(default_factory=list)
    saved_meta: dict = field(default_factory=dict)  # the checkpoint's record, when resumed
    # {layer index: algorithm} that computed the latest epoch's first (full) training batch
    training_choices: dict = field(default_factory=dict)


def new_state(config: TrainConfig, backend) -> TrainState:
    model = build_model(config.arch, backend=backend, seed=config.seed, dtype=config.dtype)
    optimizer = make_optimizer(config.optimizer, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    return TrainState(model, optimizer, np.random.default_rng([config.seed, 1]), config, backend)


def resume_state(path, config: TrainConfig, backend, explicit=(), loaded=None) -> TrainState:
    """Rebuild the state saved in `path` (or its already `loaded` contents). Settings in
    `explicit` (given by the user) must agree with the checkpoint's; the others are taken
    from it."""
    params, optim_state, meta = loaded if loaded is not None else load_checkpoint(path)
    saved = meta.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"checkpoint {path} has no training settings")
    for key in RESUME_KEYS:
        if key not in saved:
            raise CheckpointError(f"checkpoint {path} has no training setting {key!r}")
        if (reason := problem(key, saved[key])) is not None:
            raise CheckpointError(f"checkpoint {path} has an invalid setting: {reason}")
        if key in explicit and getattr(config, key) != saved[key]:
            raise CheckpointError(f"checkpoint {path} was trained with {key}={saved[key]!r}, "
                                  f"not {getattr(config, key)!r}")
        setattr(config, key, saved[key])
    try:
        state = new_state(config, backend)
    except (TypeError, ValueError) as e:  # a well-formed file with impossible settings
        raise CheckpointError(f"checkpoint {path} has invalid settings: {e}") from None
    load_into(state.model, params, path)
    try:
        state.optimizer.load_state_dict(optim_state)
        state.shuffle_rng.bit_generator.state = meta["shuffle_rng"]
        state.epochs_done = int(meta["epochs_done"])
        state.history = list(meta["history"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} has incomplete training state ({e!r})") \
            from None
    state.saved_meta = meta
    return state


def save_state(path, state: TrainState, extra_meta=None) -> None:
    meta = dict(extra_meta or {}, config=asdict(state.config), epochs_done=state.epochs_done,
                shuffle_rng=state.shuffle_rng.bit_generator.state, history=state.history)
    save_checkpoint(path, state.model, state.optimizer, meta)


def train_epoch(state: TrainState, x, labels, progress=None):
    """One pass over (x, labels) in a fresh random order, each batch randomly shifted;
    returns (loss, accuracy, seconds)."""
    config, model = state.config, state.model
    state.optimizer.lr = learning_rate(config.lr, config.lr_decay, state.epochs_done)
    order = state.shuffle_rng.permutation(len(x))
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for first in range(0, len(x), config.batch_size):
        batch = order[first:first + config.batch_size]
        inputs = random_shift(x[batch], config.shift, state.shuffle_rng)
        with np.errstate(over="ignore", invalid="ignore"):  # checked right below, in one line
            loss, logits = model.loss_and_grads(inputs, labels[batch])
        if not math.isfinite(loss):  # stop before a NaN reaches the parameters
            raise TrainingDiverged(
                f"training diverged in epoch {state.epochs_done + 1}: the loss of the batch "
                f"of images {first}..{first + len(batch) - 1} is {loss}; try a lower --lr")
        state.optimizer.step(model.parameters())
        if first == 0:
            state.training_choices = model.computed_by()
        total_loss += loss * len(batch)
        correct += int((logits.argmax(axis=1) == labels[batch]).sum())
        seen += len(batch)
        if progress is not None:
            progress(seen, total_loss / seen, correct / seen, time.perf_counter() - start)
    state.epochs_done += 1
    return total_loss / seen, correct / seen, time.perf_counter() - start


def evaluate(model, x, labels, batch_size=500, progress=None):
    """(accuracy, confusion matrix (10, 10) with rows = true label, columns = predicted);
    progress(images_done) is called after every batch."""
    predicted = model.predict_logits(x, batch_size, progress).argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return float((predicted == labels).mean()), confusion


def fit(state: TrainState, train, test, *, progress=None, evaluating=None, after_epoch=None):
    """Train on train = (x, labels) up to config.epochs, evaluating on test = (x, labels)
    after every epoch. progress(epoch) and evaluating(epoch) may give context managers whose
    values receive train_epoch's and evaluate's progress calls; after_epoch(record) runs once
    each epoch's record is in state.history (e.g. to print it and save a checkpoint). Each
    record's `load` is the CPU other processes took over its training and testing
    (kernels.support.busy: None without /proc/stat)."""
    (x_train, y_train), (x_test, y_test) = train, test
    while state.epochs_done < state.config.epochs:
        epoch = state.epochs_done + 1
        start = busy.mark()
        with progress(epoch) if progress else contextlib.nullcontext() as report:
            loss, accuracy, seconds = train_epoch(state, x_train, y_train, report)
        started = time.perf_counter()
        with evaluating(epoch) if evaluating else contextlib.nullcontext() as report:
            test_accuracy, _ = evaluate(state.model, x_test, y_test, progress=report)
        record = dict(epoch=epoch, train_loss=loss, train_accuracy=accuracy,
                      test_accuracy=test_accuracy, seconds=seconds,
                      eval_seconds=time.perf_counter() - started,
                      images_per_second=len(x_train) / seconds, lr=state.optimizer.lr,
                      backend=state.backend.name, load=busy.others_since(start))
        state.history.append(record)
        if after_epoch is not None:
            after_epoch(record)
