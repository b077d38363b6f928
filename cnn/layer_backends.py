"""Which backend computes each layer of a model, and whether a backend can train.

Training needs every pass (forward, backward-data, backward-weights); a forward-only backend
(a library that only runs inference) can still evaluate and predict. Without --backend,
evaluate and predict compute each layer with the algorithm the model was trained with: for a
dispatcher like auto, the one it chose for that layer, stored in the checkpoint - so they
neither repeat auto's trials in every process nor change the rounding the model was tested
with.
"""

from __future__ import annotations

import kernels
from kernels.support.tables import aligned

DEFAULT_BACKEND = "auto"  # the fastest backend per layer, measured on first use


def training_problem(name: str) -> str | None:
    """Why the backend called `name` cannot train (it lacks a backward pass), or None."""
    computed = kernels.passes(name)
    if all(p in computed for p in kernels.ALL_PASSES):
        return None
    plural = "es" if len(computed) > 1 else ""
    return f"{name} computes only the {' and '.join(computed)} pass{plural}; it cannot train"


def _default_worthy(name) -> bool:
    """Available here, and not the reference (the definition, far too slow for a default)."""
    return (isinstance(name, str) and name in kernels.available()
            and kernels.role(name) != kernels.REFERENCE)


def trained_with(meta: dict) -> str:
    """The backend a checkpoint was trained with, when it is available here and fit to be a
    default, else auto."""
    name = meta.get("backend")
    return name if _default_worthy(name) else DEFAULT_BACKEND


def stored_choices(meta: dict) -> dict[int, str]:
    """{layer index: algorithm} from a checkpoint ({} when it has none, or names one that is
    not available here, or the reference). The checkpoint is user input: odd entries count
    as none."""
    raw = meta.get("layer_backends")
    if not isinstance(raw, dict):
        return {}
    choices = {}
    for index, name in raw.items():
        if not (isinstance(index, str) and index.isdigit() and _default_worthy(name)):
            return {}
        choices[int(index)] = name
    return choices


def use_trained_backends(model, meta: dict) -> None:
    """Compute each layer as in training: with the stored per-layer choices when they cover
    every layer that uses a backend, else (an older checkpoint) by handing the dispatcher
    its stored decisions."""
    choices = stored_choices(meta)
    backend_layers = {i for i, layer in enumerate(model.layers) if hasattr(layer, "backend")}
    if choices and set(choices) == backend_layers:
        model.use_backends({i: kernels.get_backend(n) for i, n in choices.items()})
        return
    if not backend_layers:
        return
    adopt = kernels.capabilities(model.layers[min(backend_layers)].backend).adopt
    if adopt is not None and isinstance(meta.get("auto_decisions"), dict):
        adopt(meta["auto_decisions"])


def choices_table(model, choices: dict[int, str], dispatcher: str, batch_size: int) -> str:
    """A few lines: what the dispatcher chose for each layer on the training batches."""
    rows = [(f"layer {i}", repr(model.layers[i]), name) for i, name in sorted(choices.items())]
    if not rows:
        return f"{dispatcher} chose nothing: no layer was trained"
    return f"{dispatcher} chose, per layer (training batches of {batch_size}):\n" + \
        aligned(None, rows, indent="  ")
