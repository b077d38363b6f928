"""MNIST: locate, download, verify and parse the four official files; standardise and
augment the images for the network.

Verification policy: a file is only used if its MD5 equals the published one
(``OFFICIAL``). A present file that fails the check raises ``DataError`` and is never
parsed or silently replaced; the user has to delete it. Downloads go to a temporary
``.<file>.*.part`` (unique per process) and are renamed into place only after their MD5
matched, so an interrupted or wrong download never looks like a valid file.
``verify=False`` skips the MD5 check and exists for tests that build small synthetic
datasets. Every problem is reported as a one-line ``DataError`` that names the file. Images
stay uint8 until `prepare_images` standardises them.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kernels.support.files import atomic_write

from .idx import DataError, read_idx

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

# filename -> (official md5, number of items)
OFFICIAL = {
    TRAIN_IMAGES: ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 60000),
    TRAIN_LABELS: ("d53e105ee54ea40749a09fcbcd1e9432", 60000),
    TEST_IMAGES: ("9fb629c4189551a2d022fa330f9573f3", 10000),
    TEST_LABELS: ("ec29112dd5afa0611ce80d1b7f02629c", 10000),
}
FILES = tuple(OFFICIAL)

# Tried in order. The original site is last: it is slow and often refuses scripts.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_CHUNK = 1 << 20


class _WrongChecksum(Exception):
    """A mirror served bytes whose MD5 is not the official one."""


def md5sum(path, chunk_size: int = _CHUNK) -> str:
    """Hex MD5 of a file, read in chunks so big files need no big buffer."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path) -> None:
    """Raise DataError unless ``path`` has the official MD5 for its file name."""
    path = Path(path)
    expected = OFFICIAL[path.name][0]
    actual = md5sum(path)
    if actual != expected:
        raise DataError(f"{path} has md5 {actual}, expected {expected}: the file is corrupt or "
                        "not the official one; delete it to download again")


def resolve_data_dir(data_dir=None) -> Path:
    """Explicit argument > ``$MNIST_DIR`` > ``$XDG_CACHE_HOME/convbench/mnist`` (~/.cache)."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    if os.environ.get("MNIST_DIR"):
        return Path(os.environ["MNIST_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "convbench" / "mnist"


def _where_hint(data_dir: Path, named_by=None, names=FILES) -> str:
    """What the user can do, given who named the folder: the --data-dir argument (then
    suggesting --data-dir would send them in a circle), MNIST_DIR, or nobody (the default)."""
    which = "the four MNIST files" if tuple(names) == FILES else "the MNIST files"
    put = f"put {which} ({', '.join(names)}) into {data_dir}"
    if named_by == "argument":
        return put
    if named_by == "MNIST_DIR":
        return f"{put} or set MNIST_DIR to the folder that has them"
    return f"{put} or pass --data-dir / set MNIST_DIR"


def _named_by(data_dir) -> str | None:
    """Who chose the data folder (see resolve_data_dir)."""
    if data_dir is not None and str(data_dir) != "":
        return "argument"
    return "MNIST_DIR" if os.environ.get("MNIST_DIR") else None


def download_file(filename: str, data_dir, mirrors=MIRRORS, timeout: float = 30, *,
                  hint: str | None = None) -> Path:
    """Fetch one official file from the first mirror that serves the right bytes; `hint`
    (default: the generic one) ends the error when none does."""
    if filename not in OFFICIAL:
        raise DataError(f"{filename}: not an MNIST file (expected one of {', '.join(FILES)})")
    data_dir = Path(data_dir)
    expected = OFFICIAL[filename][0]
    target = data_dir / filename
    created = [d for d in (data_dir, *data_dir.parents) if not d.exists()]
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create data directory {data_dir} ({e.strerror or e})") from None
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename

        def fetch(out):
            request = urllib.request.Request(url, headers={"User-Agent": "convbench"})
            digest = hashlib.md5()
            with urllib.request.urlopen(request, timeout=timeout) as response:
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != expected:  # raising discards the temporary file
                raise _WrongChecksum(f"{url}: md5 {digest.hexdigest()}, expected {expected}")
        try:
            # A unique temporary .part file per process, renamed only once verified.
            atomic_write(target, fetch)
            return target
        except _WrongChecksum as e:
            failures.append(str(e))
        except (OSError, ValueError, http.client.HTTPException) as e:
            failures.append(f"{url}: {e}".replace("\n", " "))
    for folder in created:  # innermost first: leave no empty folders behind a failure
        try:
            folder.rmdir()
        except OSError:  # not empty (another file arrived), or not ours to remove
            break
    reasons = "; ".join(failures) or "no mirrors given"
    raise DataError(f"cannot download {filename} (no mirror worked: {reasons}); "
                    + (hint or _where_hint(data_dir)))


def ensure_files(data_dir=None, download: bool = True, *, verify: bool = True,
                 names=FILES) -> Path:
    """Make sure the files `names` (default: all four) are present (and official, if
    ``verify``); return the dir. A folder given as the argument (--data-dir) must exist: a
    mistyped path is "no such folder", not a download into a new folder of that name (the
    default folder and MNIST_DIR are created for the download)."""
    named_by = _named_by(data_dir)
    hint = _where_hint(resolve_data_dir(data_dir), named_by, names)
    data_dir = resolve_data_dir(data_dir)
    if named_by == "argument" and not data_dir.is_dir():
        raise DataError(f"{'not a folder' if data_dir.exists() else 'no such folder'}: "
                        f"{data_dir} (to download MNIST into a new folder, create it first)")
    missing = []
    for name in names:
        path = data_dir / name
        if path.is_file():
            if verify:
                verify_file(path)  # a bad file raises; it is never used or overwritten
        else:
            missing.append(name)
    if missing and not download:
        raise DataError(f"missing MNIST files in {data_dir}: {', '.join(missing)}; " + hint)
    for name in missing:
        download_file(name, data_dir, MIRRORS, hint=hint)
    return data_dir


@dataclass(frozen=True, repr=False)
class MNIST:
    train_images: np.ndarray  # (60000, 28, 28) uint8
    train_labels: np.ndarray  # (60000,) uint8, values 0..9
    test_images: np.ndarray   # (10000, 28, 28) uint8
    test_labels: np.ndarray   # (10000,) uint8

    def __repr__(self) -> str:
        return (f"MNIST(train={self.train_images.shape}, test={self.test_images.shape}, "
                f"dtype={self.train_images.dtype})")


def _load_split(data_dir: Path, images_name: str, labels_name: str):
    images_path, labels_path = data_dir / images_name, data_dir / labels_name
    images = read_idx(images_path, expected_shape=(None, 28, 28), expected_dtype=np.uint8)
    labels = read_idx(labels_path, expected_ndim=1, expected_dtype=np.uint8)
    if len(images) != len(labels):
        raise DataError(f"{images_path} has {len(images)} images but {labels_path} "
                        f"has {len(labels)} labels")
    if labels.size and labels.max() > 9:  # uint8, so only the upper bound can fail
        bad = int(np.argmax(labels > 9))
        raise DataError(f"{labels_path}: label {labels[bad]} at index {bad} is outside 0..9")
    return images, labels


def load_test_set(data_dir=None, *, download: bool = True, verify: bool = True):
    """The 10,000 test images and labels only (uint8): `evaluate` and `predict` need neither
    the training files nor their download."""
    data_dir = ensure_files(data_dir, download, verify=verify, names=(TEST_IMAGES, TEST_LABELS))
    return _load_split(data_dir, TEST_IMAGES, TEST_LABELS)


def load_mnist(data_dir=None, *, download: bool = True, verify: bool = True) -> MNIST:
    """Locate (downloading if allowed), verify and parse MNIST.

    ``verify=False`` skips the MD5 check of present files: for synthetic test data only.
    """
    data_dir = ensure_files(data_dir, download, verify=verify)
    train = _load_split(data_dir, TRAIN_IMAGES, TRAIN_LABELS)
    test = _load_split(data_dir, TEST_IMAGES, TEST_LABELS)
    return MNIST(*train, *test)


# Mean and standard deviation of the MNIST training pixels (scaled to [0, 1]).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def prepare_images(images, dtype=np.float32):
    """uint8 (N, 28, 28) -> standardised (N, 1, 28, 28) in `dtype`."""
    x = images.astype(dtype)[:, None] / dtype(255)
    return (x - dtype(MNIST_MEAN)) / dtype(MNIST_STD)


def random_shift(x, max_shift, rng):
    """Translate each image (N, 1, H, W) by up to max_shift pixels in each direction, filling
    with the background value: the cheapest augmentation that helps MNIST generalise."""
    if max_shift == 0:
        return x
    N, _, H, W = x.shape
    background = (0 - MNIST_MEAN) / MNIST_STD
    padded = np.full((N, H + 2 * max_shift, W + 2 * max_shift), background, dtype=x.dtype)
    padded[:, max_shift:max_shift + H, max_shift:max_shift + W] = x[:, 0]
    top, left = rng.integers(0, 2 * max_shift + 1, size=(2, N))
    rows = (top[:, None] + np.arange(H))[:, :, None]
    cols = (left[:, None] + np.arange(W))[:, None, :]
    return padded[np.arange(N)[:, None, None], rows, cols][:, None]
