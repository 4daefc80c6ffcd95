"""Reading digit images from files (PNG, JPEG...) the way MNIST draws them."""

from pathlib import Path

import numpy as np

from ..errors import DataError

SIZE = (28, 28)


def load_digit_image(path: str | Path) -> np.ndarray:
    """Read an image file as a 28x28 uint8 MNIST-like digit: white strokes on black.

    Colour images are converted to greyscale and other sizes resized to 28x28. An image that
    is mostly light (a dark digit on white paper) is inverted, since MNIST digits are light
    on a dark background.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"image file {path} does not exist.")
    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            if grey.size != SIZE:
                grey = grey.resize(SIZE, Image.Resampling.LANCZOS)
            pixels = np.asarray(grey, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"{path} is not a readable image file (PNG, JPEG, ...).") from error
    return 255 - pixels if pixels.mean() > 127 else pixels
