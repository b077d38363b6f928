"""The report's whole-model sections (`train`, `eval`, `breakdown`, `memory`): a training
step and a 10,000-image evaluation of each CNN per backend against PyTorch's twin, where a
step's time goes, and a training run's peak memory. kernels.bench.report calls `measure`
after the layer cases (kernels.bench.report_cases)."""

from __future__ import annotations

from .. import DISPATCHER, REFERENCE, is_ours, role
from .measuring import breakdown, instruments, models
from .output import render


def measure(report, plan, clock, dtype) -> None:
    """Every whole-model section the plan selects, into `report`; PyTorch's twin beside
    ours when the plan holds the `torch` backend (loaded)."""
    with_torch = "torch" in plan.backends
    # The reference is left out (minutes per step); the layer cases show its rung. Our CNN
    # on a library's kernels is `python -m cnn train --backend NAME`'s business: here the
    # libraries are layer contenders, and PyTorch's whole-model twin stands for them.
    model_backends = [b for b in plan.backends if role(b) != REFERENCE and is_ours(b)]
    for section, key, ours, theirs, samples, warmup in (
            ("train", "step", models.train_step, models.torch_train_step, plan.repeats, 2),
            ("eval", "evaluate", models.evaluate, models.torch_evaluate,
             max(1, plan.repeats // 5), 1)):
        if section not in plan.sections:
            continue
        report_key = "train_steps" if section == "train" else "evaluate"
        for arch in plan.archs:
            with clock.section(section):
                entry = _measure_model(arch, section, key, ours, theirs, samples, warmup,
                                       model_backends, with_torch, dtype)
            report[report_key].append(entry)
            render.print_model(entry, report_key)

    if "breakdown" in plan.sections:
        for arch in plan.archs:
            with clock.section("breakdown"):
                entry = dict(arch=arch, results={b: breakdown.ours(arch, b)
                                                 for b in model_backends
                                                 if models.can_run(arch, b)})
                if with_torch:
                    entry["results"]["torch"] = breakdown.torch_twin(arch)
            report["breakdown"].append(entry)
            render.print_breakdown(entry)
    if "memory" in plan.sections and "convnet" in plan.archs:
        # One training run per contender, each in a fresh interpreter, on the default CNN.
        with clock.section("memory"):
            entry = dict(arch="convnet", results={b: breakdown.peak_memory("convnet", b,
                                                                           plan.threads)
                                                  for b in model_backends
                                                  if models.can_run("convnet", b)})
            if with_torch:
                entry["results"]["torch"] = breakdown.peak_memory("convnet", "torch",
                                                                  plan.threads)
        report["peak_memory"] = entry
        render.print_memory(entry)


def time_vs_torch(entry, key):
    torch = entry["results"].get("torch")
    for result in entry["results"].values():
        result["time_vs_torch"] = None if torch is None else \
            result[key]["median"] / torch[key]["median"]


def _measure_model(arch, section, key, ours, theirs, samples, warmup, model_backends,
                   with_torch, dtype):
    """One architecture's training step or evaluation, every contender taking turns."""
    contenders = {b: ours(arch, b, dtype) for b in model_backends
                  if models.can_run(arch, b, dtype)}
    if with_torch:
        contenders["torch"] = theirs(arch, dtype)
    timed = instruments.measure_alternated(contenders, samples, warmup=warmup)
    entry = dict(name=f"{arch}.{'train_step' if section == 'train' else 'evaluate_10k'}",
                 arch=arch, results={b: {key: stats} for b, stats in timed.items()})
    if section == "train":  # what skipping the first layer's dx saves, for auto
        for backend in (b for b in model_backends if role(b) == DISPATCHER):
            entry["results"][backend]["first_layer_dx"] = models.first_layer_dx(
                arch, backend, dtype, samples)
    time_vs_torch(entry, key)
    return entry
