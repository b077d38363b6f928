"""What a training run shows and leaves behind: the progress bar, the metrics JSON and the
loss/accuracy curves. Files are written atomically: a failed run leaves none behind."""

from __future__ import annotations

import json
import os
import platform

import numpy as np

from kernels.support.files import atomic_write


class ProgressBar:
    """tqdm bar over images with running loss/accuracy; tqdm shows images/s itself."""

    def __init__(self, total, desc, disable):
        from tqdm import tqdm
        self.bar = tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=False,
                        disable=True if disable else None, mininterval=0.5)
        self.done = 0

    def __call__(self, seen, loss, accuracy, seconds):
        self.bar.update(seen - self.done)
        self.done = seen
        if self.bar.n == self.bar.total or seen % 4096 < 64:  # set_postfix is not free
            self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.2%}", refresh=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()


def write_metrics(path, state, train_samples, test_samples):
    config, backend = state.config, state.backend
    record = dict(backend=backend.name, arch=config.arch, dtype=config.dtype, seed=config.seed,
                  optimizer=config.optimizer, lr=config.lr, lr_decay=config.lr_decay,
                  batch_size=config.batch_size, train_samples=train_samples,
                  test_samples=test_samples, epochs=state.history,
                  test_accuracy=state.history[-1]["test_accuracy"] if state.history else None,
                  environment=dict(python=platform.python_version(), numpy=np.__version__,
                                   machine=platform.machine(), cpus=os.cpu_count()))
    decisions = getattr(backend, "decisions", None)
    if decisions is not None:
        record["auto_decisions"] = decisions()
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def plot_history(path, history):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["train_loss"] for h in history], "o-")
    left.set(xlabel="epoch", ylabel="train loss", title="loss")
    right.plot(epochs, [100 * h["train_accuracy"] for h in history], "o-", label="train")
    right.plot(epochs, [100 * h["test_accuracy"] for h in history], "s-", label="test")
    right.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    right.legend()
    for axes in (left, right):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
