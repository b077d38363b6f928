"""Command line: python -m cnn {train,evaluate,predict} ...

Every user error (bad argument, missing or corrupt data, bad checkpoint) ends in one line on
stderr and exit code 2, without a traceback; output files are written atomically, so a failed
run leaves none behind.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

import kernels
from kernels.support import runtime
from kernels.support.files import writable_problem

from .checkpoint import CheckpointError, load_checkpoint, load_into
from .data import DataError, load_mnist, prepare_images, read_digit_png
from .layers import log_softmax
from .model import ARCHITECTURES, build_model
from .optim import OPTIMIZERS
from .outputs import ProgressBar, plot_history, write_metrics
from .train import RESUME_KEYS, TrainConfig, evaluate, fit, new_state, resume_state, save_state

DEFAULT_BACKEND = "auto"  # the fastest backend per layer, measured on first use


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind, check, what):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") \
                from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"{text!r} must be {what}")
        return value
    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
positive_float = _number(float, lambda v: v > 0 and np.isfinite(v), "a positive number")
decay_factor = _number(float, lambda v: 0 < v <= 1, "in (0, 1]")
non_negative_float = _number(float, lambda v: v >= 0 and np.isfinite(v), "a non-negative number")
momentum_factor = _number(float, lambda v: 0 <= v < 1, "in [0, 1)")


def build_parser():
    parser = _Parser(prog="python -m cnn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    backends = kernels.available()

    train = commands.add_parser("train", help="train a model on MNIST")
    train.add_argument("--backend", choices=backends,
                       help=f"default: {DEFAULT_BACKEND}, or the checkpoint's with --resume")
    train.add_argument("--arch", choices=list(ARCHITECTURES))
    train.add_argument("--epochs", type=positive_int, default=TrainConfig.epochs,
                       help="total epochs (a resumed run continues up to this number)")
    train.add_argument("--batch-size", type=positive_int)
    train.add_argument("--optimizer", choices=list(OPTIMIZERS))
    train.add_argument("--lr", type=positive_float)
    train.add_argument("--lr-decay", type=decay_factor,
                       help="multiply the learning rate by this after every epoch")
    train.add_argument("--momentum", type=momentum_factor, help="SGD momentum")
    train.add_argument("--weight-decay", type=non_negative_float)
    train.add_argument("--shift", type=non_negative_int,
                       help="augment: shift images randomly by up to N pixels (default 1; 0 off)")
    train.add_argument("--seed", type=non_negative_int)
    train.add_argument("--dtype", choices=["float32", "float64"])
    train.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, else a cache)")
    train.add_argument("--limit-train", type=positive_int, help="use the first N train images")
    train.add_argument("--limit-test", type=positive_int, help="use the first N test images")
    train.add_argument("--save", metavar="CKPT", help="checkpoint written after every epoch")
    train.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint")
    train.add_argument("--metrics-json", metavar="PATH")
    train.add_argument("--plot", metavar="PNG", help="loss/accuracy curves (needs matplotlib)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=positive_int,
                       help="BLAS and Numba threads (default: the libraries' own choice)")

    evaluate_ = commands.add_parser("evaluate", help="accuracy and confusion matrix")
    evaluate_.add_argument("model")
    evaluate_.add_argument("--backend", choices=backends, default=DEFAULT_BACKEND)
    evaluate_.add_argument("--data-dir")
    evaluate_.add_argument("--limit-test", type=positive_int)

    predict = commands.add_parser("predict", help="classify PNG files or test-set images")
    predict.add_argument("model")
    predict.add_argument("images", nargs="+", metavar="IMAGE",
                         help="a 28x28 grayscale PNG, or an index into the test set")
    predict.add_argument("--backend", choices=backends, default=DEFAULT_BACKEND)
    predict.add_argument("--data-dir")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}[
            args.command](args)
    except (UsageError, DataError, CheckpointError) as e:
        print(f"python -m cnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk filled up while writing an output
        print(f"python -m cnn {args.command}: error: {e}", file=sys.stderr)
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
    if not args.resume:
        return new_state(config, kernels.get_backend(args.backend or DEFAULT_BACKEND))
    loaded = load_checkpoint(args.resume)
    saved_backend = loaded[2].get("backend")
    backend = kernels.get_backend(args.backend or (
        saved_backend if saved_backend in kernels.available() else DEFAULT_BACKEND))
    state = resume_state(args.resume, config, backend, explicit, loaded)
    adopt = getattr(backend, "adopt", None)
    if adopt is not None:
        adopt(state.saved_meta.get("auto_decisions", {}))
    return state


def cmd_train(args):
    _check_writable(args.save, args.metrics_json, args.plot)
    if args.plot:
        _require_matplotlib()
    runtime.reuse_freed_memory()
    if args.threads:
        runtime.pin_threads(args.threads)
    config, explicit = _config_from(args)
    state = _train_state(args, config, explicit)
    data = load_mnist(args.data_dir)
    dtype = np.dtype(config.dtype).type
    train = (prepare_images(data.train_images[:args.limit_train], dtype),
             data.train_labels[:args.limit_train].astype(np.intp))
    test = (prepare_images(data.test_images[:args.limit_test], dtype),
            data.test_labels[:args.limit_test].astype(np.intp))
    train_samples = len(train[0])
    saved_samples = state.saved_meta.get("train_samples", train_samples)
    if saved_samples != train_samples:
        raise UsageError(f"checkpoint {args.resume} was trained on {saved_samples} images, not "
                         f"{train_samples}: resume with the same --limit-train")
    backend = state.backend
    print(f"training {config.arch} ({config.dtype}) with backend {backend.name} on "
          f"{train_samples} images, testing on {len(test[0])}; epochs "
          f"{state.epochs_done + 1}..{config.epochs}", flush=True)
    if state.epochs_done >= config.epochs:
        print(f"the checkpoint already has {state.epochs_done} epochs; nothing to do")
    first_epoch = state.epochs_done + 1

    def after_epoch(record):
        print(f"epoch {record['epoch']}/{config.epochs}  loss {record['train_loss']:.4f}  "
              f"train {record['train_accuracy']:.2%}  test {record['test_accuracy']:.2%}  "
              f"{record['seconds']:.1f} s ({record['images_per_second']:,.0f} img/s)  "
              f"lr {record['lr']:.2e}", flush=True)
        decisions = getattr(backend, "decisions", None)
        if decisions is not None and record["epoch"] == first_epoch:
            print(f"{backend.name} chose: " + "; ".join(
                " ".join(key.split("|")[:3]) + f" -> {d['backend']}"
                for key, d in decisions().items()), flush=True)
        if args.save:
            save_state(args.save, state, _checkpoint_meta(backend, train_samples))

    fit(state, train, test, after_epoch=after_epoch, progress=lambda epoch: ProgressBar(
        train_samples, f"epoch {epoch}/{config.epochs}", disable=args.no_progress))
    if args.metrics_json:
        write_metrics(args.metrics_json, state, train_samples, len(test[0]))
    if args.plot:
        plot_history(args.plot, state.history)
    if state.history:
        print(f"test accuracy {state.history[-1]['test_accuracy']:.2%}")
    return 0


def _checkpoint_meta(backend, train_samples):
    """What a resumed run needs to repeat this one exactly, beyond the training settings."""
    meta = dict(backend=backend.name, train_samples=train_samples)
    decisions = getattr(backend, "decisions", None)
    if decisions is not None:
        meta["auto_decisions"] = {k: d["backend"] for k, d in decisions().items()}
    return meta


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'convbench[plot]'") from None


def _load_model(path, backend_name):
    params, _, meta = load_checkpoint(path)
    if meta.get("arch") not in ARCHITECTURES:
        raise CheckpointError(f"checkpoint {path} has unknown architecture {meta.get('arch')!r}")
    try:
        model = build_model(meta["arch"], backend=kernels.get_backend(backend_name),
                            dtype=meta.get("dtype", "float32"))
    except TypeError as e:
        raise CheckpointError(f"checkpoint {path}: {e}") from None
    load_into(model, params, path)
    return model


def cmd_evaluate(args):
    runtime.reuse_freed_memory()
    model = _load_model(args.model, args.backend)
    data = load_mnist(args.data_dir)
    x = prepare_images(data.test_images[:args.limit_test], model.dtype.type)
    labels = data.test_labels[:args.limit_test].astype(np.intp)
    accuracy, confusion = evaluate(model, x, labels)
    print(f"{model.arch}: test accuracy {accuracy:.2%} on {len(x)} images "
          f"({int(round(accuracy * len(x)))} correct)")
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for digit, row in enumerate(confusion):
        print(f"{digit:>6}" + "".join(f"{v:>6}" for v in row))
    return 0


def cmd_predict(args):
    model = _load_model(args.model, args.backend)
    images, names, truth, test = [], [], [], None
    for item in args.images:
        # An integer (ASCII digits: '²' is a Unicode digit, not an index) names a test image,
        # unless a file of that name exists.
        if re.fullmatch(r"[+-]?[0-9]+", item) and not Path(item).exists():
            if test is None:
                test = load_mnist(args.data_dir)
            index = int(item)
            if not 0 <= index < len(test.test_images):
                raise UsageError(f"test index {index} out of range 0..{len(test.test_images) - 1}")
            images.append(test.test_images[index])
            names.append(f"test[{index}]")
            truth.append(int(test.test_labels[index]))
        else:
            images.append(read_digit_png(item))
            names.append(item)
            truth.append(None)
    logits = model.predict_logits(prepare_images(np.stack(images), model.dtype.type))
    probs = np.exp(log_softmax(logits))
    for name, p, label in zip(names, probs, truth):
        digit = int(p.argmax())
        note = "" if label is None else f"  (label {label}{'' if label == digit else ', WRONG'})"
        print(f"{name}: {digit}  p={p[digit]:.3f}{note}")
    return 0
