"""Command line: python -m cnn {train,evaluate,predict} ...

Every user error (bad argument, missing or corrupt data, bad checkpoint or image, a run that
diverges, a full disk) ends in one line on stderr and exit code 2, without a traceback;
output files are written atomically, so a failed run leaves none behind. Ctrl-C (exit code
130) keeps the last checkpoint and still writes the metrics and curves of finished epochs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

import kernels
from kernels.support import runtime
from kernels.support.cores import default_threads
from kernels.support.files import writable_problem

from .arguments import DEFAULT_SAVE, build_parser
from .checkpoint import CheckpointError, load_checkpoint, load_into
from .data import DataError, load_mnist, load_test_set, prepare_images
from .drawings import blank_problem, read_digit_png
from .layer_backends import (DEFAULT_BACKEND, choices_table, trained_with, training_problem,
                             use_trained_backends)
from .layers import log_softmax
from .model import ARCHITECTURES, build_model
from .outputs import ProgressBar, busy_note, busy_summary, plot_history, write_metrics
from .settings import RESUME_KEYS, TrainConfig
from .train import TrainingDiverged, evaluate, fit, new_state, resume_state, save_state


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit code 2."""


def main(argv=None, prog="python -m cnn"):
    """Run one command; `prog` is how the user called it (`python -m cnn`, or the installed
    script), which every message and hint repeats."""
    args = build_parser(__doc__.splitlines()[0], prog).parse_args(argv)
    args.prog = prog
    try:
        return {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}[
            args.command](args)
    except (UsageError, DataError, CheckpointError, TrainingDiverged) as e:
        print(f"{prog} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk filled up while writing an output
        print(f"{prog} {args.command}: error: {e.strerror or e}"
              + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _config_from(args):
    """TrainConfig from the flags; also the names of the settings the user gave."""
    config, explicit = TrainConfig(epochs=args.epochs), set()
    for key in RESUME_KEYS:
        value = getattr(args, key)
        if value is not None:
            setattr(config, key, value)
            explicit.add(key)
    return config, explicit


def _check_writable(*paths):
    """Fail before hours of training, not after, when an output cannot be written."""
    for path in paths:
        problem = path is not None and writable_problem(path)
        if problem:
            raise UsageError(problem)


def _train_state(args, config, explicit):
    """A fresh state, or the one saved in --resume (then with the same backend, and for a
    dispatcher the same per-layer choices, unless the user asks for another backend)."""
    if args.backend and (problem := training_problem(args.backend)):
        raise UsageError(problem)
    if not args.resume:
        return new_state(config, kernels.get_backend(args.backend or DEFAULT_BACKEND))
    loaded = load_checkpoint(args.resume)
    backend = kernels.get_backend(args.backend or trained_with(loaded[2]))
    state = resume_state(args.resume, config, backend, explicit, loaded)
    adopt = kernels.capabilities(backend).adopt
    if adopt is not None:
        adopt(state.saved_meta.get("auto_decisions", {}))
    return state


def _save_path(args):
    """Where the checkpoint goes: --save, else the resumed file, else DEFAULT_SAVE."""
    if args.no_save:
        if args.save:
            raise UsageError("--save and --no-save contradict each other")
        return None
    return args.save or args.resume or DEFAULT_SAVE


def cmd_train(args):
    save = _save_path(args)
    _check_writable(save, args.metrics_json, args.plot)
    if args.plot:
        _require_matplotlib()
    runtime.reuse_freed_memory()
    config, explicit = _config_from(args)
    state = _train_state(args, config, explicit)
    if state.epochs_done >= config.epochs:
        done = f"{state.epochs_done} epoch" + ("s" if state.epochs_done != 1 else "")
        print(f"{args.resume} already has {done}; nothing to do (train more with --epochs "
              f"above {state.epochs_done}); no file written")
        return 0
    threads = args.threads
    if threads is None:  # the usable cores less those other work holds, sampled now
        threads, line = default_threads()
        print(line, flush=True)
    runtime.pin_threads(threads)  # Numba may be loaded by now: pinning can only lower it
    _check_backend(state.model)
    data = load_mnist(args.data_dir)
    dtype = np.dtype(config.dtype).type
    # A resumed run uses the checkpoint's image counts unless told otherwise: the documented
    # `train --epochs 10 --resume m.npz` failed after a --limit-train run (issue 23).
    limit_train = args.limit_train if args.limit_train is not None else \
        state.saved_meta.get("train_samples")
    limit_test = args.limit_test if args.limit_test is not None else \
        state.saved_meta.get("test_samples")
    train = (prepare_images(data.train_images[:limit_train], dtype),
             data.train_labels[:limit_train].astype(np.intp))
    test = (prepare_images(data.test_images[:limit_test], dtype),
            data.test_labels[:limit_test].astype(np.intp))
    train_samples, test_samples = len(train[0]), len(test[0])
    saved_samples = state.saved_meta.get("train_samples", train_samples)
    if saved_samples != train_samples:
        raise UsageError(f"checkpoint {args.resume} was trained on {saved_samples} images, not "
                         f"{train_samples}: resume with the same --limit-train")
    backend = state.backend
    print(f"training {config.arch} ({config.dtype}) with backend {backend.name} on "
          f"{train_samples} images, testing on {test_samples}; epochs "
          f"{state.epochs_done + 1}..{config.epochs}; checkpoint {save or 'not saved'}",
          flush=True)
    first_epoch = state.epochs_done + 1

    def after_epoch(record):
        print(f"epoch {record['epoch']}/{config.epochs}  loss {record['train_loss']:.4f}  "
              f"train {record['train_accuracy']:.2%}  test {record['test_accuracy']:.2%}  "
              f"{record['seconds']:.1f} s ({record['images_per_second']:,.0f} img/s)  "
              f"lr {record['lr']:.2e}{busy_note(record)}", flush=True)
        # A dispatcher (it has winner(cache)) chose per layer: show what.
        if record["epoch"] == first_epoch and kernels.capabilities(backend).winner:
            print(choices_table(state.model, state.training_choices, backend.name,
                                config.batch_size), flush=True)
        if save:
            save_state(save, state, _checkpoint_meta(state, train_samples, test_samples))

    def bar(what, total):
        return lambda epoch: ProgressBar(total, f"{what} {epoch}/{config.epochs}",
                                         disable=args.no_progress)
    try:
        fit(state, train, test, after_epoch=after_epoch, progress=bar("epoch", train_samples),
            evaluating=bar("testing after epoch", test_samples))
    except (KeyboardInterrupt, TrainingDiverged):
        # The finished epochs are real results: keep their metrics and curves.
        _write_outputs(args, state, train_samples, test_samples, interrupted=True)
        raise
    _write_outputs(args, state, train_samples, test_samples)
    if state.history:
        print(f"test accuracy {state.history[-1]['test_accuracy']:.2%}")
    if warning := busy_summary(state.history):
        print(warning, file=sys.stderr)
    if save and state.history:
        print(f"saved {save}; next: {args.prog} evaluate {save}")
    return 0


def _write_outputs(args, state, train_samples, test_samples, interrupted=False):
    if args.metrics_json:
        write_metrics(args.metrics_json, state, train_samples, test_samples,
                      interrupted=interrupted)
        print(f"wrote {args.metrics_json}", file=sys.stderr if interrupted else sys.stdout)
    if args.plot and state.history:
        plot_history(args.plot, state)
        print(f"wrote {args.plot}", file=sys.stderr if interrupted else sys.stdout)


def _checkpoint_meta(state, train_samples, test_samples):
    """What a resumed run needs to repeat this one exactly, beyond the training settings,
    and the algorithm that computed each layer, with which evaluate and predict compute it."""
    backend = state.backend
    meta = dict(backend=backend.name, train_samples=train_samples, test_samples=test_samples,
                layer_backends={str(i): name for i, name in state.training_choices.items()})
    decisions = kernels.capabilities(backend).decisions
    if decisions is not None:
        meta["auto_decisions"] = {k: d["backend"] for k, d in decisions().items()}
    return meta


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'convbench[plot]'") from None


def _check_backend(model):
    """Refuse, before any data is read, a backend that cannot compute a layer of the model."""
    reason = model.unsupported()
    if reason is not None:
        raise UsageError(f"backend {model.layers[0].backend.name} cannot run {model.arch}: "
                         f"{reason}")


def _load_model(path, backend_name):
    """The checkpoint's model, computed by `backend_name`, or (None) as it was trained."""
    params, _, meta = load_checkpoint(path)
    if meta.get("arch") not in ARCHITECTURES:
        raise CheckpointError(f"checkpoint {path} has unknown architecture {meta.get('arch')!r}")
    try:
        model = build_model(meta["arch"], backend=kernels.get_backend(
            backend_name or trained_with(meta)), dtype=meta.get("dtype", "float32"))
    except TypeError as e:
        raise CheckpointError(f"checkpoint {path}: {e}") from None
    load_into(model, params, path)
    if backend_name is None:
        use_trained_backends(model, meta)
    _check_backend(model)
    return model


def cmd_evaluate(args):
    runtime.reuse_freed_memory()
    model = _load_model(args.model, args.backend)
    images, labels = load_test_set(args.data_dir)  # the training files are not needed
    x = prepare_images(images[:args.limit_test], model.dtype.type)
    labels = labels[:args.limit_test].astype(np.intp)
    with ProgressBar(len(x), "testing", disable=args.no_progress) as progress:
        accuracy, confusion = evaluate(model, x, labels, progress=progress)
    print(f"{model.arch}: test accuracy {accuracy:.2%} on {len(x)} images "
          f"({int(round(accuracy * len(x)))} correct)")
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for digit, row in enumerate(confusion):
        print(f"{digit:>6}" + "".join(f"{v:>6}" for v in row))
    return 0


def cmd_predict(args):
    """Classify each item; one that cannot be read (a missing or non-28x28 PNG, an index out
    of range) is reported in one line and the others are still classified; the exit status
    is then 2."""
    model = _load_model(args.model, args.backend)
    images, names, truth, test, failed = [], [], [], None, 0
    for item in args.images:
        try:
            # An integer (ASCII digits: '²' is a Unicode digit, not an index) names a test
            # image, unless a file of that name exists.
            if re.fullmatch(r"[+-]?[0-9]+", item) and not Path(item).exists():
                if test is None:  # a dataset that cannot be read stops the command
                    test = load_test_set(args.data_dir)  # the training files are not needed
                index = int(item)
                if not 0 <= index < len(test[0]):
                    raise UsageError(f"test index {index} out of range 0..{len(test[0]) - 1}")
                pixels, name, label = test[0][index], f"test[{index}]", int(test[1][index])
            else:
                pixels, name, label = _read_drawing(item), item, None
                if problem := blank_problem(pixels):
                    print(f"{args.prog} predict: warning: {item} {problem}: its answer means "
                          "nothing", file=sys.stderr)
        except UsageError as e:
            print(f"{args.prog} predict: error: {e}", file=sys.stderr)
            failed += 1
            continue
        images.append(pixels)
        names.append(name)
        truth.append(label)
    if images:
        logits = model.predict_logits(prepare_images(np.stack(images), model.dtype.type))
        probs = np.exp(log_softmax(logits))
        for name, p, label in zip(names, probs, truth):
            digit = int(p.argmax())
            note = "" if label is None else \
                f"  (label {label}{'' if label == digit else ', WRONG'})"
            print(f"{name}: {digit}  p={p[digit]:.3f}{note}")
    return 2 if failed else 0


def _read_drawing(path):
    """A PNG's pixels; its problem (no such file, not 28x28, not an image) as a UsageError
    about that one item."""
    try:
        return read_digit_png(path)
    except DataError as e:
        raise UsageError(str(e)) from None
