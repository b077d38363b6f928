"""Tests for cnn.data: IDX parsing, verification, data-dir resolution, download, loading.

Everything runs on small synthetic files in tmp_path; downloads use a local HTTP server
on 127.0.0.1 and file:// URLs (no network). The real-data test needs MNIST_DIR.
"""
import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from cnn import data, idx
from cnn.data import DataError

FOUR = (data.TRAIN_IMAGES, data.TRAIN_LABELS, data.TEST_IMAGES, data.TEST_LABELS)


def idx_bytes(code, shape, payload: bytes, magic=b"\x00\x00") -> bytes:
    """Build an uncompressed IDX file by hand, independently of write_idx."""
    return magic + bytes([code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def write_gz(path: Path, raw: bytes) -> Path:
    path.write_bytes(gzip.compress(raw))
    return path


def make_dataset(d: Path, n_train=12, n_test=7, seed=0, train_labels=None, test_labels=None):
    """Write a tiny MNIST-shaped dataset with the official file names; return the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        data.TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        data.TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8) if train_labels is None
        else np.asarray(train_labels, np.uint8),
        data.TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        data.TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8) if test_labels is None
        else np.asarray(test_labels, np.uint8),
    }
    d.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        idx.write_idx(d / name, arr)
    return arrays


def assert_error_names(excinfo, path: Path, *words):
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg


# ---------------------------------------------------------------- IDX format


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("shape", [(5, 28, 28), (9,), (2, 3, 4, 1)])
def test_idx_round_trip(tmp_path, dtype, shape):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal(shape) * 100).astype(dtype)
    p = tmp_path / "a.gz"
    idx.write_idx(p, arr)
    back = idx.read_idx(p)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, arr)
    assert back.flags.writeable
    assert [f.name for f in tmp_path.iterdir()] == ["a.gz"]  # no temp file left


def test_write_idx_produces_standard_header(tmp_path):
    arr = np.arange(6, dtype=np.int16).reshape(2, 3) - 3
    p = tmp_path / "h.gz"
    idx.write_idx(p, arr)
    raw = gzip.decompress(p.read_bytes())
    assert raw[:4] == b"\x00\x00\x0b\x02"
    assert raw[4:12] == b"\x00\x00\x00\x02\x00\x00\x00\x03"
    assert raw[12:] == arr.astype(">i2").tobytes()  # big-endian payload


def test_read_hand_built_idx(tmp_path):
    p = write_gz(tmp_path / "x.gz", idx_bytes(0x08, (2, 3), bytes([1, 2, 3, 250, 251, 252])))
    np.testing.assert_array_equal(idx.read_idx(p), [[1, 2, 3], [250, 251, 252]])
    p = write_gz(tmp_path / "y.gz", idx_bytes(0x0C, (2,), struct.pack(">2i", -7, 70000)))
    out = idx.read_idx(p, expected_ndim=1)
    assert out.dtype == np.int32 and out.tolist() == [-7, 70000]


def test_write_idx_is_atomic_on_error(tmp_path, monkeypatch):
    p = tmp_path / "bad.gz"
    for bad in (np.zeros(3, np.complex64), np.zeros(3, bool), np.array([None, None])):
        with pytest.raises(DataError, match="no IDX type code"):
            idx.write_idx(p, bad)
    assert list(tmp_path.iterdir()) == []
    idx.write_idx(p, np.arange(4, dtype=np.uint8))
    before = p.read_bytes()

    class DiskFull(gzip.GzipFile):
        def write(self, b):
            super().write(b[:1])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(idx.gzip, "GzipFile", DiskFull)
    with pytest.raises(OSError):  # fails mid-write: old file intact, no temp file left
        idx.write_idx(p, np.arange(100, dtype=np.uint8))
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["bad.gz"]


GOOD = idx_bytes(0x08, (2, 2), bytes([1, 2, 3, 4]))


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(GOOD), ["gzip"]),                                 # not gzip
    (lambda p: p.write_bytes(gzip.compress(GOOD * 50)[:-30]), ["truncated"]),  # cut stream
    (lambda p: write_gz(p, b"\x01\x00" + GOOD[2:]), ["magic"]),
    (lambda p: write_gz(p, idx_bytes(0x08, (2, 2), bytes(4), magic=b"\x00\x07")), ["magic"]),
    (lambda p: write_gz(p, idx_bytes(0x07, (2, 2), bytes(4))), ["type code 0x07"]),
    (lambda p: write_gz(p, GOOD[:-1]), ["truncated data", "needs 4 bytes", "has 3"]),
    (lambda p: write_gz(p, GOOD + b"\x00\x00"), ["2 trailing bytes"]),
    (lambda p: write_gz(p, GOOD[:6]), ["truncated IDX header"]),
    (lambda p: write_gz(p, b"\x00\x00"), ["truncated IDX header"]),
    (lambda p: write_gz(p, b""), ["truncated IDX header"]),
    (lambda p: write_gz(p, idx_bytes(0x0B, (3,), bytes(5))), ["truncated data", "needs 6"]),
])
def test_read_idx_rejects_corruption(tmp_path, make, words):
    p = tmp_path / "broken-idx.gz"
    make(p)
    with pytest.raises(DataError) as ei:
        idx.read_idx(p)
    assert_error_names(ei, p, *words)


def test_read_idx_rejects_bad_gzip_crc(tmp_path):
    comp = bytearray(gzip.compress(GOOD))
    comp[-8] ^= 0xFF  # CRC32 in the gzip trailer
    p = tmp_path / "crc.gz"
    p.write_bytes(bytes(comp))
    with pytest.raises(DataError) as ei:
        idx.read_idx(p)
    assert_error_names(ei, p, "gzip")


def test_read_idx_missing_file(tmp_path):
    p = tmp_path / "nope.gz"
    with pytest.raises(DataError) as ei:
        idx.read_idx(p)
    assert_error_names(ei, p, "cannot read")


def test_read_idx_expected_shape_ndim_dtype(tmp_path):
    p = tmp_path / "img.gz"
    idx.write_idx(p, np.zeros((3, 28, 27), np.uint8))
    with pytest.raises(DataError) as ei:
        idx.read_idx(p, expected_shape=(None, 28, 28))
    assert_error_names(ei, p, "(3, 28, 27)", "(N, 28, 28)")
    with pytest.raises(DataError) as ei:
        idx.read_idx(p, expected_shape=(3, 28))
    assert_error_names(ei, p, "expected (3, 28)")
    with pytest.raises(DataError) as ei:
        idx.read_idx(p, expected_ndim=1)
    assert_error_names(ei, p, "3 dimensions", "expected 1")
    with pytest.raises(DataError) as ei:
        idx.read_idx(p, expected_dtype=np.int16)
    assert_error_names(ei, p, "uint8", "int16")
    assert idx.read_idx(p, expected_shape=(3, None, 27), expected_ndim=3).shape == (3, 28, 27)


# ---------------------------------------------------------------- md5 and loading


def test_md5sum_matches_hashlib_across_chunks(tmp_path):
    p = tmp_path / "blob"
    p.write_bytes(b"")
    assert data.md5sum(p) == "d41d8cd98f00b204e9800998ecf8427e"
    blob = np.random.default_rng(2).bytes(10_000)
    p.write_bytes(blob)
    assert data.md5sum(p, chunk_size=333) == hashlib.md5(blob).hexdigest()
    assert data.md5sum(p) == hashlib.md5(blob).hexdigest()


@pytest.fixture
def fake_official(tmp_path, monkeypatch):
    """A synthetic dataset whose MD5s are patched in as the 'official' ones."""
    src = tmp_path / "src"
    arrays = make_dataset(src)
    table = {n: (data.md5sum(src / n), len(arrays[n])) for n in FOUR}
    monkeypatch.setattr(data, "OFFICIAL", table)
    return src, arrays


def test_load_mnist_synthetic(tmp_path):
    arrays = make_dataset(tmp_path)
    ds = data.load_mnist(tmp_path, download=False, verify=False)
    np.testing.assert_array_equal(ds.train_images, arrays[data.TRAIN_IMAGES])
    np.testing.assert_array_equal(ds.train_labels, arrays[data.TRAIN_LABELS])
    np.testing.assert_array_equal(ds.test_images, arrays[data.TEST_IMAGES])
    np.testing.assert_array_equal(ds.test_labels, arrays[data.TEST_LABELS])
    assert ds.train_images.dtype == np.uint8 and ds.test_labels.shape == (7,)
    with pytest.raises(AttributeError):
        ds.train_images = None  # frozen


def test_load_mnist_verified_against_patched_table(fake_official):
    src, arrays = fake_official
    ds = data.load_mnist(src, download=False)
    np.testing.assert_array_equal(ds.test_images, arrays[data.TEST_IMAGES])


def test_md5_mismatch_is_rejected_and_never_parsed(tmp_path, monkeypatch):
    make_dataset(tmp_path)  # valid IDX, but not the official bytes
    monkeypatch.setattr(data, "read_idx", lambda *a, **k: pytest.fail("parsed an unverified file"))
    monkeypatch.setattr(data, "download_file", lambda *a, **k: pytest.fail("tried to replace it"))
    expected = data.OFFICIAL[data.TRAIN_IMAGES][0]
    for dl in (False, True):
        with pytest.raises(DataError) as ei:
            data.load_mnist(tmp_path, download=dl)
        p = tmp_path / data.TRAIN_IMAGES
        assert_error_names(ei, p, f"has md5 {data.md5sum(p)}", f"expected {expected}", "delete it")


def test_count_mismatch(tmp_path):
    make_dataset(tmp_path, n_train=5)
    idx.write_idx(tmp_path / data.TRAIN_LABELS, np.zeros(4, np.uint8))
    with pytest.raises(DataError) as ei:
        data.load_mnist(tmp_path, download=False, verify=False)
    assert_error_names(ei, tmp_path / data.TRAIN_IMAGES, "has 5 images",
                       str(tmp_path / data.TRAIN_LABELS), "has 4 labels")


def test_label_out_of_range(tmp_path):
    make_dataset(tmp_path, n_test=4, test_labels=[0, 9, 10, 3])
    with pytest.raises(DataError) as ei:
        data.load_mnist(tmp_path, download=False, verify=False)
    assert_error_names(ei, tmp_path / data.TEST_LABELS, "label 10 at index 2", "0..9")


def test_wrong_image_geometry_or_label_dtype(tmp_path):
    make_dataset(tmp_path)
    idx.write_idx(tmp_path / data.TEST_IMAGES, np.zeros((7, 32, 32), np.uint8))
    with pytest.raises(DataError) as ei:
        data.load_mnist(tmp_path, download=False, verify=False)
    assert_error_names(ei, tmp_path / data.TEST_IMAGES, "(7, 32, 32)")
    make_dataset(tmp_path)
    idx.write_idx(tmp_path / data.TRAIN_LABELS, np.zeros(12, np.int32))
    with pytest.raises(DataError) as ei:
        data.load_mnist(tmp_path, download=False, verify=False)
    assert_error_names(ei, tmp_path / data.TRAIN_LABELS, "int32", "uint8")


def test_ensure_files_no_download_lists_missing(fake_official):
    src, _ = fake_official  # the two files left must pass verification
    (src / data.TRAIN_LABELS).unlink()
    (src / data.TEST_IMAGES).unlink()
    with pytest.raises(DataError) as ei:
        data.ensure_files(src, download=False)
    msg = str(ei.value)
    assert f"in {src}:" in msg and "\n" not in msg
    assert f"{data.TRAIN_LABELS}, {data.TEST_IMAGES};" in msg  # exactly the missing ones, listed
    # The folder was named by the caller (--data-dir): naming another way would not help.
    assert "--data-dir" not in msg and "MNIST_DIR" not in msg


@pytest.mark.parametrize("named_by", ["argument", "MNIST_DIR", "default"])
def test_the_hint_suits_whoever_named_the_folder(named_by, tmp_path, monkeypatch):
    """The advice after a missing file (issue 17, finding 19): never 'pass --data-dir' to a
    user who passed it."""
    folder = tmp_path / "mnist"
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if named_by == "MNIST_DIR":
        monkeypatch.setenv("MNIST_DIR", str(folder))
    if named_by == "default":
        folder = tmp_path / "convbench" / "mnist"
    folder.mkdir(parents=True)  # a named folder that does not exist: "no such folder"
    with pytest.raises(DataError) as ei:
        data.ensure_files(folder if named_by == "argument" else None, download=False)
    msg = str(ei.value)
    assert f"into {folder}" in msg
    assert ("--data-dir" in msg) == (named_by == "default")
    assert ("MNIST_DIR" in msg) == (named_by != "argument")


def test_ensure_files_empty_dir_lists_all(tmp_path):
    d = tmp_path / "not-there"
    for download in (False, True):  # a named folder must exist: nothing is downloaded
        with pytest.raises(DataError, match=f"^no such folder: {d} "):
            data.ensure_files(d, download=download)
        assert not d.exists()  # nothing created
    d.mkdir()
    with pytest.raises(DataError) as ei:
        data.ensure_files(d, download=False)
    assert f"in {d}: {', '.join(FOUR)};" in str(ei.value)
    make_dataset(d)
    assert data.ensure_files(d, download=False, verify=False) == d


# ---------------------------------------------------------------- data directory


def test_resolve_data_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data.resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert data.resolve_data_dir() == tmp_path / "env"
    monkeypatch.setenv("MNIST_DIR", "")  # empty counts as unset
    assert data.resolve_data_dir() == tmp_path / "xdg" / "convbench" / "mnist"
    monkeypatch.delenv("MNIST_DIR")
    assert data.resolve_data_dir() == tmp_path / "xdg" / "convbench" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.resolve_data_dir() == tmp_path / "home" / ".cache" / "convbench" / "mnist"


# ---------------------------------------------------------------- download


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_mirror(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields (base_url, root). Stopped afterwards."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def dead_url():
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(d: Path):
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_download_falls_back_to_second_mirror(tmp_path, fake_official, http_mirror, dead_url):
    src, _ = fake_official
    base, root = http_mirror
    name = data.TRAIN_IMAGES
    (root / name).write_bytes((src / name).read_bytes())
    dest = tmp_path / "cache" / "mnist"  # does not exist yet
    out = data.download_file(name, dest, mirrors=(dead_url, base), timeout=5)
    assert out == dest / name
    assert data.md5sum(out) == data.OFFICIAL[name][0]
    assert leftovers(dest) == [name]


def test_download_from_file_url(tmp_path, fake_official):
    src, _ = fake_official
    dest = tmp_path / "dest"
    out = data.download_file(data.TEST_LABELS, dest,
                        mirrors=((tmp_path / "missing").as_uri(), src.as_uri()), timeout=5)
    assert out.read_bytes() == (src / data.TEST_LABELS).read_bytes()
    assert leftovers(dest) == [data.TEST_LABELS]


def test_download_all_mirrors_fail(tmp_path, fake_official, http_mirror, dead_url):
    base, _root = http_mirror  # serves nothing: 404
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as ei:
        data.download_file(data.TRAIN_LABELS, dest, mirrors=(dead_url, base), timeout=5)
    msg = str(ei.value)
    assert "\n" not in msg
    assert msg.startswith(f"cannot download {data.TRAIN_LABELS}")
    assert dead_url in msg and "404" in msg
    assert str(dest) in msg and "MNIST_DIR" in msg and "--data-dir" in msg
    assert all(n in msg for n in FOUR)  # says which files to put there
    assert leftovers(dest) == []


def test_download_rejects_wrong_content(tmp_path, fake_official, http_mirror):
    src, _ = fake_official
    base, root = http_mirror
    name = data.TEST_IMAGES
    good = (src / name).read_bytes()
    (root / name).write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit off
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as ei:
        data.download_file(name, dest, mirrors=(base,), timeout=5)
    assert f"expected {data.OFFICIAL[name][0]}" in str(ei.value)
    assert leftovers(dest) == []
    # a good mirror after the bad one is used
    out = data.download_file(name, dest, mirrors=(base, src.as_uri()), timeout=5)
    assert out.read_bytes() == good and leftovers(dest) == [name]


def test_ensure_files_downloads_missing_then_loads(tmp_path, fake_official, http_mirror,
                                                   dead_url, monkeypatch):
    src, arrays = fake_official
    base, root = http_mirror
    for n in FOUR:
        (root / n).write_bytes((src / n).read_bytes())
    monkeypatch.setattr(data, "MIRRORS", (dead_url, base))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / data.TRAIN_IMAGES).write_bytes((src / data.TRAIN_IMAGES).read_bytes())
    ds = data.load_mnist(dest)
    assert leftovers(dest) == sorted(FOUR)
    np.testing.assert_array_equal(ds.train_labels, arrays[data.TRAIN_LABELS])
    np.testing.assert_array_equal(ds.test_images, arrays[data.TEST_IMAGES])


def test_download_unknown_file(tmp_path):
    with pytest.raises(DataError, match="not an MNIST file"):
        data.download_file("foo.gz", tmp_path, mirrors=())


# ---------------------------------------------------------------- real data


@pytest.mark.skipif(not os.environ.get("MNIST_DIR"),
                    reason="set MNIST_DIR to a folder with the four official MNIST files")
def test_real_mnist():
    ds = data.load_mnist(os.environ["MNIST_DIR"], download=False, verify=True)
    assert ds.train_images.shape == (60000, 28, 28) and ds.test_images.shape == (10000, 28, 28)
    assert ds.train_labels.shape == (60000,) and ds.test_labels.shape == (10000,)
    for a in (ds.train_images, ds.train_labels, ds.test_images, ds.test_labels):
        assert a.dtype == np.uint8
    assert np.bincount(ds.train_labels, minlength=10).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(ds.test_labels, minlength=10).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert ds.train_images.max() == 255 and ds.train_images.min() == 0
