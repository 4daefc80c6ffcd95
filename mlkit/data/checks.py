"""The checks every dataset passes on its way in, whatever file it came from (docs/formats.md).

Each refusal is one DataError naming the file and what to fix, so a command never trains on
labels out of range, NaN pixels or arrays of the wrong shape.
"""

import numpy as np

from ..errors import DataError

IMAGE_SHAPES = "images of shape (N, H, W) or (N, H, W, C)"


def check_images(images, split: str, where: str) -> np.ndarray:
    """Numeric, finite images of shape (N, H, W) or (N, H, W, C) with N, H, W, C >= 1.

    Args:
        split: the array's name for the message, e.g. "x_train".
        where: the file (or dataset) the array came from.
    """
    images = np.asarray(images)
    if images.ndim == 0:
        raise DataError(f"{where}: {split} is a single value (a zero-dimensional array); expected {IMAGE_SHAPES}.")
    if images.ndim not in (3, 4):
        raise DataError(f"{where}: {split} has shape {images.shape}; expected {IMAGE_SHAPES}"
                        " (flat rows must be reshaped to H x W).")
    if len(images) == 0:
        raise DataError(f"{where}: {split} holds no images; each split needs at least one.")
    if 0 in images.shape[1:]:
        raise DataError(f"{where}: {split} images have shape {images.shape[1:]}; every side must be at least 1.")
    if images.dtype.kind not in "uif":
        raise DataError(f"{where}: {split} has dtype {images.dtype}; images must be numbers "
                        "(uint8 0-255, or floats).")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        bad_rows = ~np.isfinite(images.reshape(len(images), -1)).all(axis=1)
        raise DataError(f"{where}: {split} holds NaN or infinite pixels in {int(bad_rows.sum())} images "
                        f"(the first is image {int(np.argmax(bad_rows))}); replace or drop them.")
    return images


def check_labels(labels, count: int, split: str, where: str) -> np.ndarray:
    """One integer class number per image, as an int64 vector; (N, 1) columns are flattened.

    Args:
        count: the number of images the labels belong to.
    """
    labels = np.asarray(labels)
    if labels.ndim == 0:
        raise DataError(f"{where}: {split} is a single value (a zero-dimensional array); "
                        "expected one class number per image, shape (N,).")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.reshape(-1)  # Keras' CIFAR loader gives (N, 1)
    if labels.ndim != 1:
        raise DataError(f"{where}: {split} has shape {labels.shape}; expected one class number per image, shape (N,).")
    if labels.dtype.kind not in "ui":
        raise DataError(f"{where}: {split} has dtype {labels.dtype}; labels must be integers (class numbers 0, 1, ...).")
    if len(labels) != count:
        raise DataError(f"{where}: {count} {split.replace('y_', '')} images but {len(labels)} labels; "
                        "give one label per image.")
    return labels.astype(np.int64)


def check_label_range(labels: np.ndarray, num_classes: int, split: str, where: str) -> None:
    """Every label inside 0..num_classes-1 (num_classes = the number of class names)."""
    outside = (labels < 0) | (labels >= num_classes)
    if outside.any():
        first = int(np.argmax(outside))
        raise DataError(f"{where}: {split} holds label {labels[first]} (image {first}) but there are "
                        f"{num_classes} class names, so labels must be 0..{num_classes - 1}; "
                        "fix the labels or the class names.")


def check_class_names(class_names, where: str) -> list[str]:
    """A non-empty list of distinct strings."""
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__iter__"):
        raise DataError(f"{where}: class_names is {class_names!r}; expected a list of names, one per class.")
    names = list(class_names)
    if not names or not all(isinstance(name, str) for name in names):
        raise DataError(f"{where}: class_names is {names!r}; expected a non-empty list of names (strings).")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"{where}: class_names repeats {', '.join(map(repr, repeated))}; give each class its own name.")
    return names


def check_names_match_labels(class_names: list[str], label_sets: list[np.ndarray], where: str) -> None:
    """As many class names as the labels' range 0..max: a longer list names classes no image has.

    Checked where a file declares its own class names (HDF5 datasets), not on subsets, which
    may lack the last class by chance.
    """
    highest = max(int(labels.max()) for labels in label_sets if len(labels))
    if len(class_names) != highest + 1:
        raise DataError(f"{where}: class_names has {len(class_names)} names but the labels run 0..{highest}; "
                        f"give exactly one name per class ({highest + 1}).")
