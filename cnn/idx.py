"""The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/), gzip-compressed::

    bytes 0-1   0x00 0x00                      magic: always zero
    byte  2     type code                      0x08 uint8, 0x09 int8, 0x0B int16,
                                               0x0C int32, 0x0D float32, 0x0E float64
    byte  3     ndim
    then        ndim big-endian uint32 sizes   e.g. 60000, 28, 28
    then        the data, row-major, big-endian, exactly prod(sizes) items

Every problem is a one-line ``DataError`` that names the file.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from kernels.support.files import atomic_write

# IDX type code -> on-disk (big-endian) dtype
_IDX_DTYPES = {
    0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_IDX_CODES = {(dt.kind, dt.itemsize): code for code, dt in _IDX_DTYPES.items()}


class DataError(Exception):
    """A data file is missing, corrupt, unofficial or cannot be downloaded."""


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
    """Write ``array`` as a gzip IDX file, atomically (kernels.support.files.atomic_write)."""
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
