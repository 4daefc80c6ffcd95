"""Reading digit images from files (PNG, JPEG...) the way MNIST draws them."""

from pathlib import Path

import numpy as np

from ..errors import DataError
from ..images import open_image

SIZE = (28, 28)
# A digit must keep some shape to be read once resized to 28x28.
MIN_SIDE = 8
# A 40-megapixel photo of a digit is still fine; more is refused before it is decoded, well
# below Pillow's own decompression-bomb guard (PIL.Image.MAX_IMAGE_PIXELS).
MAX_PIXELS = 40_000_000


def load_digit_image(path: str | Path) -> np.ndarray:
    """Read an image file as a 28x28 uint8 MNIST-like digit: white strokes on black.

    Colour images are converted to greyscale and other sizes resized to 28x28. An image that
    is mostly light (a dark digit on white paper) is inverted, since MNIST digits are light
    on a dark background.

    Raises:
        DataError: missing, not an image Pillow can decode, truncated, smaller than MIN_SIDE
            pixels a side or larger than MAX_PIXELS (checked on the header, before decoding).
    """
    from PIL import Image

    with open_image(path) as image:
        _check_size(Path(path), image.size)
        grey = image.convert("L")
        if grey.size != SIZE:
            grey = grey.resize(SIZE, Image.Resampling.LANCZOS)
        pixels = np.asarray(grey, dtype=np.uint8)
    return 255 - pixels if pixels.mean() > 127 else pixels


def _check_size(path: Path, size: tuple[int, int]) -> None:
    width, height = size
    if min(width, height) < MIN_SIDE:
        raise DataError(f"{path} is {width}x{height} pixels; a digit image needs at least {MIN_SIDE} a side.")
    if width * height > MAX_PIXELS:
        raise DataError(f"{path} is {width}x{height} pixels, more than the {MAX_PIXELS:,} a digit image "
                        "may have; crop or shrink it.")

