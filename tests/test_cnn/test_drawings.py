"""A user's drawing as `predict` sees it: transparent backgrounds composited on the background
the strokes evidently stand on, and blank images warned about (issue 17, finding 16: an RGBA
drawing whose transparent pixels are (0, 0, 0, 0) was flattened to all black and answered
"1 p=0.153" silently). The PNGs are made here with Pillow."""

from __future__ import annotations

import numpy as np
import pytest

from cnn.drawings import read_digit_png
from cnn_helpers import run

PIL = pytest.importorskip("PIL.Image")


def strokes():
    """A 28x28 mask of a hand-drawn-looking 7: a bar and a diagonal, with soft edges."""
    mask = np.zeros((28, 28))
    mask[5:8, 6:22] = 1.0
    for row in range(8, 24):
        col = 21 - (row - 8) // 2
        mask[row, col - 1:col + 2] = 1.0
    mask[4, 6:22] = mask[8, 6:20] = 0.5  # anti-aliased rows: partly transparent
    return mask


def save(tmp_path, name, array, mode):
    path = tmp_path / name
    PIL.fromarray(array, mode=mode).save(path)
    return path


def mnist_like(mask):
    """The same drawing as MNIST stores it: white strokes on black, uint8."""
    return np.rint(255 * mask).astype(np.uint8)


@pytest.mark.parametrize("ink", [0, 255], ids=["dark-strokes", "light-strokes"])
def test_transparent_background_is_the_strokes_complement(ink, tmp_path):
    """RGBA strokes of one colour on (0, 0, 0, 0): the strokes come out white on black
    whatever their colour, exactly as the opaque drawing would."""
    mask = strokes()
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = np.where(mask > 0, ink, 0)[..., None]
    rgba[..., 3] = np.rint(255 * mask).astype(np.uint8)
    assert (rgba[mask == 0] == 0).all()  # the transparent pixels are (0, 0, 0, 0)
    pixels = read_digit_png(save(tmp_path, "seven.png", rgba, "RGBA"))
    np.testing.assert_array_equal(pixels, mnist_like(mask))


def test_gray_with_alpha_and_palette_transparency(tmp_path):
    mask = strokes() == 1
    la = np.zeros((28, 28, 2), np.uint8)
    la[..., 1] = 255 * mask  # black ink, transparent elsewhere
    assert (read_digit_png(save(tmp_path, "la.png", la, "LA")) == 255 * mask).all()

    palette = PIL.new("P", (28, 28))
    palette.putdata(mask.astype(np.uint8).ravel().tolist())
    palette.putpalette([255, 255, 255, 0, 0, 0])  # index 0 white, 1 black ink
    path = tmp_path / "p.png"
    palette.save(path, transparency=0)
    assert (read_digit_png(path) == 255 * mask).all()


def test_opaque_images_are_read_as_before(tmp_path):
    mask = strokes()
    dark_on_light = 255 - mnist_like(mask)
    rgb = np.repeat(dark_on_light[..., None], 3, axis=2)
    for path in (save(tmp_path, "l.png", dark_on_light, "L"),
                 save(tmp_path, "rgb.png", rgb, "RGB"),
                 save(tmp_path, "rgba.png", np.dstack([rgb, np.full((28, 28), 255, np.uint8)]),
                      "RGBA")):
        np.testing.assert_array_equal(read_digit_png(path), mnist_like(mask))


@pytest.fixture(scope="module")
def model_file(fake_dir, tmp_path_factory):
    from cnn import cli, data
    from cnn_helpers import official_table_for

    directory, _ = fake_dir
    path = tmp_path_factory.mktemp("model") / "m.npz"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "OFFICIAL", official_table_for(directory))
        assert cli.main(["train", "--arch", "tiny", "--epochs", "1", "--limit-train", "64",
                         "--limit-test", "32", "--backend", "im2col", "--no-progress",
                         "--data-dir", str(directory), "--save", str(path)]) == 0
    return path


@pytest.mark.parametrize("kind", ["transparent", "white", "black"])
def test_predict_warns_about_a_blank_image(kind, model_file, tmp_path, capsys):
    blank = {"transparent": (np.zeros((28, 28, 4), np.uint8), "RGBA"),
             "white": (np.full((28, 28), 255, np.uint8), "L"),
             "black": (np.zeros((28, 28, 3), np.uint8), "RGB")}[kind]
    drawn = np.dstack([np.zeros((28, 28, 3), np.uint8), mnist_like(strokes())])
    paths = [save(tmp_path, "blank.png", *blank), save(tmp_path, "seven.png", drawn, "RGBA")]
    code, out, err = run(["predict", model_file, *paths], capsys)
    assert code == 0, err
    assert len(out.splitlines()) == 2  # both still answered
    assert err.splitlines() == [f"python -m cnn predict: warning: {paths[0]} is blank (its "
                                "pixels differ by at most 0 of 255): its answer means nothing"]
