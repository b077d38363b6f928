"""Checkpoints: one .npz with parameters, optimiser state and a JSON metadata record.

Layout of the archive:
    param/<layer>.<name>   model parameters (e.g. param/0.w)
    optim/<key>            optimiser state (velocity/..., or t, m/..., v/...)
    meta                   JSON: format, arch, dtype, training settings, epochs done,
                           the shuffling RNG's state and the per-epoch history

Files are written to a temporary file in the target directory and renamed into place, so a
crash never leaves a half-written checkpoint where a good one was.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from kernels.support.files import atomic_write

FORMAT = "convbench-checkpoint-1"


class CheckpointError(ValueError):
    """The checkpoint is unreadable, not ours, or does not fit the model."""


def save_checkpoint(path, model, optimizer, meta: dict) -> None:
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    if optimizer is not None:
        arrays.update({f"optim/{k}": v for k, v in optimizer.state_dict().items()})
    record = dict(meta, format=FORMAT, arch=model.arch, dtype=model.dtype.name)
    arrays["meta"] = np.array(json.dumps(record))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path):
    """(params, optimizer_state, meta) from a checkpoint file, or CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory, not a file")
    try:
        is_archive = zipfile.is_zipfile(path)
    except OSError as e:
        raise CheckpointError(f"checkpoint {path} is unreadable ({e.strerror or e})") from None
    if not is_archive:  # np.load would try it as a pickle and advise loading it unsafely
        raise CheckpointError(f"{path} is not a convbench checkpoint (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"checkpoint {path} is unreadable ({e})") from None
    try:
        meta = json.loads(str(contents.pop("meta")))
    except (KeyError, ValueError):
        raise CheckpointError(f"{path} is not a convbench checkpoint (no metadata)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a convbench checkpoint (format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    params = {k[len("param/"):]: v for k, v in contents.items() if k.startswith("param/")}
    for name, value in params.items():
        # A diverged run's weights would evaluate and train silently into NaN losses.
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise CheckpointError(f"checkpoint {path} has non-finite values (NaN or inf) in "
                                  f"parameter {name}: the run that wrote it diverged")
    optim = {k[len("optim/"):]: v for k, v in contents.items() if k.startswith("optim/")}
    return params, optim, meta


def load_into(model, params, path) -> None:
    """Load parameters, turning a mismatch into a CheckpointError that names the file."""
    try:
        model.load_state_dict(params)
    except ValueError as e:
        raise CheckpointError(f"checkpoint {path} does not fit architecture {model.arch}: "
                              f"{e}") from None
