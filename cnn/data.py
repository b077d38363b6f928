"""MNIST: locate, download, verify and parse the four official IDX files.

IDX format (http://yann.lecun.com/exdb/mnist/), stored gzip-compressed::

    bytes 0-1   0x00 0x00                      magic: always zero
    byte  2     type code                      0x08 uint8, 0x09 int8, 0x0B int16,
                                               0x0C int32, 0x0D float32, 0x0E float64
    byte  3     ndim
    then        ndim big-endian uint32 sizes   e.g. 60000, 28, 28
    then        the data, row-major, big-endian, exactly prod(sizes) items

Verification policy: a file is only used if its MD5 equals the published one
(``OFFICIAL``). A present file that fails the check raises ``DataError`` and is never
parsed or silently replaced; the user has to delete it. Downloads go to a temporary
``.<file>.*.part`` (unique per process) and are renamed into place only after their MD5
matched, so an
interrupted or wrong download never looks like a valid file. ``verify=False`` skips the
MD5 check and exists for tests that build small synthetic datasets. Every problem is
reported as a one-line ``DataError`` that names the file. Images stay uint8 here.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kernels.files import atomic_write

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

# IDX type code -> on-disk (big-endian) dtype
_IDX_DTYPES = {
    0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_IDX_CODES = {(dt.kind, dt.itemsize): code for code, dt in _IDX_DTYPES.items()}
_CHUNK = 1 << 20


class DataError(Exception):
    """A data file is missing, corrupt, unofficial or cannot be downloaded."""


class _WrongChecksum(Exception):
    """A mirror served bytes whose MD5 is not the official one."""


def _shape_str(shape) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"


def read_idx(path, *, expected_shape=None, expected_ndim=None, expected_dtype=None) -> np.ndarray:
    """Parse a gzip-compressed IDX file into a native-endian array.

    ``expected_shape`` may use ``None`` for "any size", e.g. ``(None, 28, 28)``.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file or truncated download ({e})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or e})") from None

    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: bad IDX magic {raw[:4].hex()}: first two bytes must be zero")
    if raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{raw[2]:02x}")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"{path}: truncated IDX header: {ndim} dimensions need {header_len} bytes")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))

    need, have = math.prod(shape) * dtype.itemsize, len(raw) - header_len
    if have < need:
        raise DataError(f"{path}: truncated data: header {shape} needs {need} bytes, "
                        f"file has {have}")
    if have > need:
        raise DataError(f"{path}: {have - need} trailing bytes after the {shape} data")
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(f"{path}: has {ndim} dimensions {shape}, expected {expected_ndim}")
    if expected_shape is not None and (
        ndim != len(expected_shape)
        or any(e is not None and e != s for e, s in zip(expected_shape, shape))
    ):
        raise DataError(f"{path}: has shape {shape}, expected {_shape_str(expected_shape)}")
    native = dtype.newbyteorder("=")
    if expected_dtype is not None and native != np.dtype(expected_dtype):
        raise DataError(f"{path}: has type {native}, expected {np.dtype(expected_dtype)}")
    # astype copies: the result is writable and native-endian, not a view of `raw`.
    return np.frombuffer(raw, dtype, offset=header_len).reshape(shape).astype(native)


def write_idx(path, array) -> None:
    """Write ``array`` as a gzip IDX file, atomically (kernels.files.atomic_write)."""
    path, array = Path(path), np.asarray(array)
    code = _IDX_CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise DataError(f"{path}: dtype {array.dtype} has no IDX type code")
    if array.ndim > 255 or any(s >= 2**32 for s in array.shape):
        raise DataError(f"{path}: shape {array.shape} does not fit an IDX header")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()

    def write(f):
        # filename="" and mtime=0 keep the bytes (and so the MD5) reproducible.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
            gz.write(header)
            gz.write(array.astype(_IDX_DTYPES[code], copy=False).tobytes())
    atomic_write(path, write)


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


def _where_hint(data_dir: Path) -> str:
    return (f"put the four MNIST files ({', '.join(FILES)}) into {data_dir} "
            "or pass --data-dir / set MNIST_DIR")


def download(filename: str, data_dir, mirrors=MIRRORS, timeout: float = 30) -> Path:
    """Fetch one official file from the first mirror that serves the right bytes."""
    if filename not in OFFICIAL:
        raise DataError(f"{filename}: not an MNIST file (expected one of {', '.join(FILES)})")
    data_dir = Path(data_dir)
    expected = OFFICIAL[filename][0]
    target = data_dir / filename
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
    reasons = "; ".join(failures) or "no mirrors given"
    raise DataError(f"cannot download {filename} (no mirror worked: {reasons}); "
                    + _where_hint(data_dir))


_fetch = download  # ensure_files' `download` flag shadows the function name


def ensure_files(data_dir=None, download: bool = True, *, verify: bool = True) -> Path:
    """Make sure the four files are present (and official, if ``verify``); return the dir."""
    data_dir = resolve_data_dir(data_dir)
    missing = []
    for name in FILES:
        path = data_dir / name
        if path.is_file():
            if verify:
                verify_file(path)  # a bad file raises; it is never used or overwritten
        else:
            missing.append(name)
    if missing and not download:
        raise DataError(f"missing MNIST files in {data_dir}: {', '.join(missing)}; "
                        + _where_hint(data_dir))
    for name in missing:
        _fetch(name, data_dir, MIRRORS)  # looked up at call time so it can be overridden
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


def load_mnist(data_dir=None, *, download: bool = True, verify: bool = True) -> MNIST:
    """Locate (downloading if allowed), verify and parse MNIST.

    ``verify=False`` skips the MD5 check of present files: for synthetic test data only.
    """
    data_dir = ensure_files(data_dir, download, verify=verify)
    train = _load_split(data_dir, TRAIN_IMAGES, TRAIN_LABELS)
    test = _load_split(data_dir, TEST_IMAGES, TEST_LABELS)
    return MNIST(*train, *test)
