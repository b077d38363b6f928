"""Shared helpers for the `cnn` test files: finite differences, a learnable fake MNIST, a
directory listing used to prove that failed runs leave no files behind, and in-process runs
of the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnn import cli, data, idx

# Central-difference step and relative tolerance for every float64 gradient check.
#
# The central difference (L(t + h) - L(t - h)) / 2h differs from dL/dt by
#   truncation  h^2 / 6 * |L'''|         ~ 1e-12 * |L'''|  (L''' = O(1) for these losses:
#                                                          softmax curvature; zero for the
#                                                          piecewise-linear layers)
#   round-off   ~ delta / h              where delta ~ a few eps * (sum of |terms| making L)
#                                        ~ 1e-16 * 10..100 / 1e-6 ~ 1e-9..1e-8 absolute.
# h = 1e-6 balances the two (the optimum of h^2 + eps/h is h ~ eps^(1/3) ~ 6e-6) and leaves
# both far below RTOL = 1e-6 relative to the gradient's scale, while any real mistake in a
# backward pass (a wrong index, a missing term, a factor) changes entries by O(1) relative.
H_STEP = 1e-6
RTOL = 1e-6


def central_difference(loss, arr, indices, h=H_STEP):
    """d loss() / d arr[index] for each index in `indices`, perturbing `arr` in place (and
    restoring it exactly afterwards)."""
    out = np.empty(len(indices))
    for k, index in enumerate(indices):
        old = arr[index]
        arr[index] = old + h
        plus = loss()
        arr[index] = old - h
        minus = loss()
        arr[index] = old
        out[k] = (plus - minus) / (2 * h)
    return out


def all_indices(arr):
    return list(np.ndindex(arr.shape))


def sample_indices(arr, count, rng):
    """`count` distinct entries of arr (all of them if it has fewer)."""
    flat = rng.choice(arr.size, size=min(count, arr.size), replace=False)
    return [np.unravel_index(i, arr.shape) for i in flat]


def assert_grad_close(analytic, numeric, what, rtol=RTOL):
    """analytic and numeric agree to rtol, relative to each entry and to the gradient's scale.

    The scale term (rtol * max|numeric|) absorbs the absolute round-off ~1e-9 of the
    difference quotient on entries that are themselves ~0; entries are still compared to
    within 1e-6 of the largest one, far below the effect of any wrong term."""
    analytic, numeric = np.asarray(analytic, float), np.asarray(numeric, float)
    assert analytic.shape == numeric.shape, what
    scale = float(np.abs(numeric).max())
    # Non-vacuous: a gradient that is (nearly) all zeros would match a broken backward.
    assert scale > 1e-4, f"{what}: degenerate check, numeric gradient ~ 0 (max {scale:g})"
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=rtol * scale, err_msg=what)


# ------------------------------------------------------------------ fake MNIST

FAKE_TRAIN, FAKE_TEST = 256, 128


def blob_images(n, rng):
    """n uint8 28x28 images whose class k (0..9) is a bright 8x5 bar at one of ten
    positions (2 rows x 5 columns), on a dark noisy background; labels cycle 0..9 shuffled.
    The mean pixel is ~30, so the CLI's light-background inversion never triggers."""
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.int32)
    for i, k in enumerate(labels):
        r, c = 3 + 13 * (k // 5), 1 + 5 * (k % 5)
        images[i, r:r + 8, c:c + 5] += 180 + rng.integers(0, 30)
    return np.clip(images, 0, 255).astype(np.uint8), labels


def make_fake_mnist(directory, n_train=FAKE_TRAIN, n_test=FAKE_TEST, seed=0):
    """Write the four MNIST files (official names) with learnable content; return arrays."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_images, train_labels = blob_images(n_train, rng)
    test_images, test_labels = blob_images(n_test, rng)
    arrays = {data.TRAIN_IMAGES: train_images, data.TRAIN_LABELS: train_labels,
              data.TEST_IMAGES: test_images, data.TEST_LABELS: test_labels}
    for name, array in arrays.items():
        idx.write_idx(directory / name, array)
    return arrays


def official_table_for(directory):
    """An OFFICIAL table under which the files now in `directory` pass the MD5 check."""
    return {name: (data.md5sum(Path(directory) / name), count)
            for name, (_, count) in data.OFFICIAL.items()}


def listing(directory):
    """Every file and folder below `directory` (relative paths), hidden ones included."""
    directory = Path(directory)
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


# ------------------------------------------------------------------ the command line

def run(argv, capsys):
    """cli.main in-process: (exit code, stdout, stderr). argparse errors exit via
    SystemExit, the command's own errors return 2; both count."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2, f"exit code {code}, stderr {err!r}"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error" in lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
