"""A user's drawing of a digit, for `predict`: read from a PNG (or any format Pillow reads)
into a 28x28 uint8 image that looks like MNIST's - white strokes on black - whatever the
drawing's background: light (inverted), transparent (composited on the background its
strokes evidently stand on) or missing (a blank image, which has no answer worth trusting).
"""

from __future__ import annotations

import numpy as np

from .idx import DataError

# Below this spread between the darkest and the lightest pixel (of 255) nothing stands out
# from the background: there is no digit to classify.
BLANK_CONTRAST = 16


def _flatten_transparency(image):
    """uint8 (H, W) gray levels, transparent pixels composited on the evident background:
    the complement of the opaque pixels (a drawing app exports dark strokes on a transparent
    (0, 0, 0, 0) background, which dropping alpha would turn into all black), or black when
    every pixel is transparent."""
    rgba = image.convert("RGBA")
    gray = np.asarray(rgba.convert("L"), dtype=np.float64)  # the colour, alpha ignored
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255
    if alpha.sum() == 0:
        return np.zeros(gray.shape, np.uint8)
    ink = (gray * alpha).sum() / alpha.sum()  # the mean colour of what was drawn
    background = 255.0 if ink < 128 else 0.0
    return np.rint(gray * alpha + background * (1 - alpha)).astype(np.uint8)


def blank_problem(pixels) -> str | None:
    """Why a (28, 28) uint8 image shows no digit ("is blank (...)"), or None."""
    spread = int(pixels.max()) - int(pixels.min())
    if spread < BLANK_CONTRAST:
        return f"is blank (its pixels differ by at most {spread} of 255)"
    return None


def read_digit_png(path):
    """A user's 28x28 digit as uint8 (28, 28), white on black like MNIST: a light background
    is inverted, a transparent one first composited (see _flatten_transparency). The size is
    checked from the header, before any pixel is decoded, so a huge image costs nothing (and
    Pillow's decompression-bomb guard, which would warn or raise with a message of its own,
    is not needed)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError(f"{path}: reading PNG files needs Pillow: "
                        "pip install 'convbench[plot]'") from None
    guard, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as image:
            if image.size != (28, 28):
                raise DataError(f"{path}: image is {image.size[0]}x{image.size[1]}, "
                                "expected 28x28")
            # (Image.has_transparency_data says the same from Pillow 10.1 on)
            if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
                pixels = _flatten_transparency(image)
            else:
                pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not an image") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    return 255 - pixels if pixels.mean() > 127 else pixels
