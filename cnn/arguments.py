"""The command line's arguments: every flag of `python -m cnn`, its rule and its help.

Training settings are checked by the same rules a checkpoint's settings obey (cnn.settings);
a bad value is one line and exit code 2, before anything runs.
"""

from __future__ import annotations

import argparse

import kernels
from kernels.support.command_line import Parser, positive_int, thread_count

from .layer_backends import DEFAULT_BACKEND
from .model import ARCHITECTURES
from .optim import OPTIMIZERS
from .settings import DTYPES, TrainConfig, parse

DEFAULT_SAVE = "model.npz"  # where `evaluate` and `predict` in the README look
TRAINED_WITH = (f"default: the algorithms the model was trained with (with {DEFAULT_BACKEND}: "
                "the one it chose for each layer, stored in the checkpoint)")


def _setting(key):
    """argparse type for a training setting: the same rule a checkpoint's settings obey."""
    def convert(text):
        try:
            return parse(key, text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = key  # argparse names the type in its messages
    return convert


def _path(text):
    """A file or folder name: an empty one names nothing (the shell's "$UNSET" gives one)."""
    if text == "":
        raise argparse.ArgumentTypeError("an empty path names no file or folder")
    return text


def _backend(backends):
    """--backend's type: an available backend's name; a near miss gets "did you mean", a
    registered one that cannot be used its reason (a framework not installed, say)."""
    def parse(text):
        if text in backends:
            return text
        entry = kernels.plugins.find(text)
        if entry is not None and entry.problem is not None:
            raise argparse.ArgumentTypeError(f"backend {text!r} is unavailable: "
                                             f"{entry.problem}")
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r}{kernels.plugins.did_you_mean(text)} "
            f"(choose from {', '.join(backends)})")
    return parse


def _default(key):
    return f"default {getattr(TrainConfig, key)}; with --resume the checkpoint's"


def build_parser(description, prog="python -m cnn"):
    parser = Parser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    backends = kernels.available()

    train = commands.add_parser("train", help="train a model on MNIST")
    train.add_argument("--backend", type=_backend(backends), choices=backends,
                       help=f"default {DEFAULT_BACKEND}; with --resume the checkpoint's "
                            "(one that computes only the forward pass cannot train)")
    train.add_argument("--arch", choices=list(ARCHITECTURES),
                       help=_default("arch"))
    train.add_argument("--epochs", type=_setting("epochs"), default=TrainConfig.epochs,
                       help="total epochs; a resumed run continues up to this number "
                            f"(default {TrainConfig.epochs})")
    train.add_argument("--batch-size", type=_setting("batch_size"), help=_default("batch_size"))
    train.add_argument("--optimizer", choices=list(OPTIMIZERS),
                       help=_default("optimizer"))
    train.add_argument("--lr", type=_setting("lr"), help=f"learning rate ({_default('lr')})")
    train.add_argument("--lr-decay", type=_setting("lr_decay"),
                       help=f"multiply the learning rate by this after every epoch "
                            f"({_default('lr_decay')})")
    train.add_argument("--momentum", type=_setting("momentum"),
                       help=f"SGD momentum ({_default('momentum')})")
    train.add_argument("--weight-decay", type=_setting("weight_decay"),
                       help=f"L2 penalty added to the gradient ({_default('weight_decay')})")
    train.add_argument("--shift", type=_setting("shift"),
                       help=f"augment: shift images randomly by up to N pixels, 0 for none "
                            f"({_default('shift')})")
    train.add_argument("--seed", type=_setting("seed"), help=_default("seed"))
    train.add_argument("--dtype", choices=list(DTYPES), help=_default("dtype"))
    train.add_argument("--data-dir", type=_path, help="MNIST folder (default $MNIST_DIR, else "
                                          "~/.cache/convbench/mnist; downloaded if missing)")
    train.add_argument("--limit-train", type=positive_int, help="use the first N training images")
    train.add_argument("--limit-test", type=positive_int, help="use the first N test images")
    train.add_argument("--save", metavar="CKPT", type=_path,
                       help=f"checkpoint written after every epoch (default {DEFAULT_SAVE}; "
                            "with --resume the resumed file)")
    train.add_argument("--no-save", action="store_true", help="write no checkpoint")
    train.add_argument("--resume", metavar="CKPT", type=_path, help="continue from a checkpoint")
    train.add_argument("--metrics-json", metavar="PATH", type=_path,
                       help="settings, per-epoch figures and versions as JSON")
    train.add_argument("--plot", metavar="PNG", type=_path, help="loss/accuracy curves (needs matplotlib)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.add_argument("--threads", type=thread_count,
                       help="BLAS and Numba threads, at most the usable cores "
                            "(default: the usable cores less those busy with other work "
                            "at start)")

    evaluate_ = commands.add_parser("evaluate", help="accuracy and confusion matrix")
    evaluate_.add_argument("model", type=_path, help="a checkpoint written by train")
    evaluate_.add_argument("--backend", type=_backend(backends), choices=backends,
                           help=TRAINED_WITH)
    evaluate_.add_argument("--data-dir", type=_path, help="MNIST folder (as for train)")
    evaluate_.add_argument("--limit-test", type=positive_int, help="use the first N test images")
    evaluate_.add_argument("--no-progress", action="store_true", help="no progress bar")

    predict = commands.add_parser("predict", help="classify PNG files or test-set images")
    predict.add_argument("model", type=_path, help="a checkpoint written by train")
    predict.add_argument("images", nargs="+", metavar="IMAGE", type=_path,
                         help="a 28x28 PNG (dark on light or light on dark; a transparent "
                              "background counts as the background), or an index into the "
                              "test set (0-9999)")
    predict.add_argument("--backend", type=_backend(backends), choices=backends,
                          help=TRAINED_WITH)
    predict.add_argument("--data-dir", type=_path, help="MNIST folder, for test-set indices")
    return parser
