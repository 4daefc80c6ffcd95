"""Reading any image file as RGB pixels and writing RGB pixels as a PNG, atomically."""

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import DataError, first_line
from .files import atomic_path

# Pillow's 16-bit greyscale modes: converting them to RGB directly would clip every value
# above 255 to white, so they are scaled to 0..255 first.
SIXTEEN_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")


@contextlib.contextmanager
def open_image(path: str | os.PathLike) -> Iterator:
    """Open an image file with Pillow, every way of failing turned into one DataError.

    Every command that reads image files opens them here: decompression bombs (Pillow errors past
    twice PIL.Image.MAX_IMAGE_PIXELS and only warns below that, so the warning is refused too),
    and undecodable, truncated or missing files.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder; give an image file.")
    if not path.is_file():
        raise DataError(f"image file {path} does not exist; give a PNG, JPEG or other image file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataError(f"{path} is too large to read safely ({first_line(error)}).") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise DataError(f"{path} is not a readable image ({first_line(error)}); "
                        "give a PNG, JPEG or other image file.") from error


def load_rgb_image(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Read an image file as an (height, width, 3) uint8 RGB array, upright as viewers show it.

    Grey images become three equal channels, palette images their colours, and an alpha
    channel is dropped (the filter works on colour, not on transparency).

    Returns:
        The pixels and the file's own Pillow mode (e.g. "L", "RGBA"), for the record.
    Raises:
        DataError: the file is missing, is not an image Pillow can decode, is truncated, or
            has more pixels than Pillow's decompression-bomb guard (PIL.Image.MAX_IMAGE_PIXELS).
    """
    from PIL import ImageOps

    with open_image(path) as image:
        image.load()  # decode now, so a truncated file fails here
        mode = image.mode
        pixels = _to_rgb(ImageOps.exif_transpose(image))
    return pixels, mode


def _to_rgb(image) -> np.ndarray:
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float64) * (255 / 65535)
        return np.repeat(np.clip(np.rint(grey), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # Pillow warns when such a palette goes straight to RGB
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def save_png(pixels: np.ndarray, path: str | os.PathLike) -> Path:
    """Write (height, width, 3) uint8 pixels as a PNG file; a reader never sees half a file."""
    from PIL import Image

    with atomic_path(path) as temp:
        Image.fromarray(pixels).save(temp, format="PNG")
    return Path(path)

