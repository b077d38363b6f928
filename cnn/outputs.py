"""What a training run shows and leaves behind: progress bars, the metrics JSON and the
loss/accuracy curves. Files are written atomically: a failed run leaves none behind."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict

import numpy as np

import kernels
from kernels.support.files import atomic_write
from kernels.support.runtime import cpu_model


class ProgressBar:
    """tqdm bar over images; training passes (seen, loss, accuracy, seconds) and shows the
    running loss and accuracy, evaluation passes only the images done. tqdm adds images/s."""

    def __init__(self, total, desc, disable):
        from tqdm import tqdm
        self.bar = tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=False,
                        disable=True if disable else None, mininterval=0.5)
        self.done = 0

    def __call__(self, seen, loss=None, accuracy=None, seconds=None):
        self.bar.update(seen - self.done)
        self.done = seen
        if loss is not None and (self.bar.n == self.bar.total or seen % 4096 < 64):
            self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.2%}", refresh=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()


def busy_note(record) -> str:
    """The end of an epoch's line: empty on a quiet machine, else how many cores other
    processes kept busy meanwhile (kernels.support.busy), so slow seconds say why."""
    load = record.get("load")
    if not load or not load["busy"]:
        return ""
    return f"  BUSY: other processes took {load['others_cores']:.2f} of " \
        f"{os.cpu_count()} cores"


def busy_summary(history) -> str | None:
    """One warning line after training when other work took CPU during any epoch, or None."""
    busy = [h for h in history if (h.get("load") or {}).get("busy")]
    if not busy:
        return None
    epochs = ", ".join(str(h["epoch"]) for h in busy)
    most = max(h["load"]["others_cores"] for h in busy)
    return (f"warning: the machine was busy: other processes took up to {most:.2f} of "
            f"{os.cpu_count()} cores during epoch{'s' if len(busy) > 1 else ''} {epochs}; "
            "their seconds are slower than this machine's own (each epoch's `load` in "
            "--metrics-json)")


def _installed(distribution):
    """The installed version of a distribution, None when it is not installed (read from
    its metadata: torch is not imported for its version)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _blas():
    """The BLAS libraries behind NumPy's and SciPy's GEMMs: those loaded in this process, by
    threadpoolctl when installed, else the one NumPy was built against."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        return [dict(source="numpy.show_config", name=blas.get("name"),
                     version=blas.get("version"))]
    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer",
            "architecture")
    return [dict(source="threadpoolctl", **{k: pool.get(k) for k in keep})
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def _fingerprint():
    """The machine the run's seconds describe (kernels.support.peak.fingerprint: ISA, vector
    width, cores, measured peak; the peak is cached per machine after its first probe)."""
    from kernels.support import peak, runtime
    return peak.fingerprint(runtime.pinned_threads() or runtime.usable_cores())


def _versions(backend):
    import numba

    found = dict(convbench=_installed("convbench"), python=platform.python_version(),
                 numpy=np.__version__, numba=numba.__version__, scipy=_installed("scipy"),
                 torch=_installed("torch"), blas=_blas(), machine=platform.machine(),
                 cpu=cpu_model(), cpus=os.cpu_count(), fingerprint=_fingerprint())
    wrapped = kernels.capabilities(backend).versions  # a framework names its libraries
    if wrapped is not None:
        found["backend_libraries"] = wrapped()
    return found


def write_metrics(path, state, train_samples, test_samples, *, interrupted=False):
    """Every setting, the per-epoch history and the software it ran on, as JSON."""
    config, backend = state.config, state.backend
    settings = asdict(config)
    record = dict(backend=backend.name, epochs_planned=settings.pop("epochs"), **settings,
                  train_samples=train_samples, test_samples=test_samples,
                  epochs_done=state.epochs_done,
                  interrupted=interrupted, epochs=state.history,
                  test_accuracy=state.history[-1]["test_accuracy"] if state.history else None,
                  layer_backends={str(i): name for i, name in state.training_choices.items()},
                  environment=_versions(backend))
    decisions = kernels.capabilities(backend).decisions
    if decisions is not None:
        record["auto_decisions"] = decisions()
    text = json.dumps(record, indent=2, allow_nan=False) + "\n"  # strict JSON, as jq reads
    atomic_write(path, lambda f: f.write(text.encode()))


def plot_history(path, state):
    """Loss and accuracy per epoch, titled with what was trained and how it ended."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    history, config = state.history, state.config
    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    left.plot(epochs, [h["train_loss"] for h in history], "o-")
    left.set(xlabel="epoch", ylabel="train loss", title="loss")
    right.plot(epochs, [100 * h["train_accuracy"] for h in history], "o-", label="train")
    right.plot(epochs, [100 * h["test_accuracy"] for h in history], "s-", label="test")
    right.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    right.legend()
    for axes in (left, right):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    final = f", test accuracy {history[-1]['test_accuracy']:.2%}" if history else ""
    fig.suptitle(f"{config.arch} on MNIST - backend {state.backend.name}, {config.dtype}, "
                 f"{config.optimizer} lr {config.lr:g}{final}", fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
