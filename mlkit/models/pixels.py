"""The first layer of mlkit's MNIST-like classifiers: pixels as the files store them (0-255) in,
[0, 1] out, so a saved model scores the dataset's images without any preparation."""

import numpy as np

from ..errors import DataError

PIXEL_MAX = 255.0


def pixel_scaling(name: str = "scale"):
    """A layer dividing every pixel by 255.

    A Normalization layer with mean 0 and variance 255**2 computes (x - 0) / 255 as a float32
    division, which gives for every value 0-255 the same float32 as dividing in float64 and
    rounding: the inputs depth-study's models were trained on before the scaling moved inside
    them. Rescaling(1/255) multiplies by float32(1/255) instead, one unit in the last place off
    for 126 of the 256 values, and that would change every trained number.
    """
    import keras

    return keras.layers.Normalization(mean=0.0, variance=PIXEL_MAX ** 2, axis=None, name=name)


def check_pixel_images(images: np.ndarray, dataset: str) -> None:
    """Refuse images that are not stored pixels (uint8, 0-255): the models scale them inside.

    Raises:
        DataError: naming the dtype found.
    """
    if images.dtype != np.uint8:
        raise DataError(f"dataset {dataset!r} holds {images.dtype} images; this command's models take "
                        "uint8 pixels (0-255) as the official files store them. Export the data with "
                        "`mlkit data export` or store the pixels as uint8.")
