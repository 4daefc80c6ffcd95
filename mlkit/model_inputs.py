"""What a saved image classifier takes: its image shape, the classes it predicts and the scale of
its pixels, checked against a dataset before the model scores it.

The pixel-scale rule is documented for graders in docs/grading.md.
"""

from dataclasses import dataclass

import numpy as np

from .errors import ModelError

SCALES = (1, 255)


@dataclass(frozen=True)
class PixelScale:
    """How to feed stored 0-255 pixels: 255 = as stored, 1 = divided by 255; and why."""

    scale: int
    reason: str

    def __repr__(self) -> str:
        return f"PixelScale({self.scale}, {self.reason!r})"

    def apply(self, images: np.ndarray) -> np.ndarray:
        """The images as float32 at this scale.

        float32 division by 255 gives, for every uint8 value, the same float32 as dividing in
        float64 and rounding, which is how depth-study feeds its images.
        """
        images = images.astype(np.float32)
        return images if self.scale == 255 else images / np.float32(255)


def choose_scale(model, given: int | None = None) -> PixelScale:
    """`given` when set, else 255 if the model scales its own pixels, else 1 (docs/grading.md).

    The model scales its own pixels when, before its first layer with trainable weights, it has a
    Rescaling layer that shrinks values (scale below 1, as Rescaling(1/255)) or a Normalization
    layer whose mean or standard deviation is above 1 (set for 0-255 pixels, as mlkit's
    pixel_scaling layer, or adapted to them). Pixels divided by 255 never have either above 1.
    """
    if given is not None:
        if given not in SCALES:
            raise ValueError(f"scale must be 1 or 255, got {given!r}")
        return PixelScale(given, "--scale")
    for layer in leading_layers(model):
        kind = type(layer).__name__
        if kind == "Rescaling" and np.max(np.abs(np.asarray(layer.scale, dtype=float))) < 1:
            return PixelScale(255, f"the model rescales: Rescaling layer {layer.name!r}")
        if kind == "Normalization" and _set_for_pixels(layer):
            return PixelScale(255, f"the model normalizes: Normalization layer {layer.name!r}")
    return PixelScale(1, "no Rescaling layer before the first weighted layer")


def leading_layers(model):
    """The layers from the input up to the first one with trainable weights (nested models
    opened). Frozen layers are fixed transforms looked through, such as the mirror and shift
    matrices in front of airbench's network (models/airbench.py), and Normalization's weights
    are its statistics."""
    for layer in _flat_layers(model):
        if layer.trainable_weights:
            return
        yield layer


def _flat_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested Sequential, Functional or Pipeline
            yield from _flat_layers(layer)
        else:
            yield layer


def _set_for_pixels(layer) -> bool:
    mean, variance = getattr(layer, "mean", None), getattr(layer, "variance", None)
    if mean is None or variance is None:  # never built: it holds no statistics yet
        return False
    return bool(np.max(np.abs(np.asarray(mean))) > 1 or np.max(np.asarray(variance)) > 1)


def input_shape(model) -> tuple:
    """The shape of one image the model takes (None for a free axis)."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise ModelError(f"model {model.name!r} takes {len(inputs)} inputs; mlkit scores models with one image input.")
    return tuple(inputs[0].shape[1:])


def class_count(model) -> int:
    """How many classes the model's single (N, classes) output scores."""
    outputs = getattr(model, "outputs", None) or []
    shape = tuple(outputs[0].shape) if len(outputs) == 1 else ()
    if len(shape) != 2 or shape[1] is None:
        raise ModelError(f"model {model.name!r} must have one output of shape (N, classes); "
                         f"it has {', '.join(str(tuple(o.shape)) for o in outputs) or 'none'}.")
    return int(shape[1])


def fit_images(images: np.ndarray, shape: tuple) -> np.ndarray:
    """`images` in the model's `shape`: as stored, with a channel axis of 1 added or dropped,
    or flattened (pixels keep their order in every case).

    Raises:
        ModelError: none of these fits; the message names both shapes.
    """
    candidates = [images, images[..., None], images.reshape(len(images), -1)]
    if images.shape[-1] == 1:
        candidates.insert(1, images[..., 0])
    for candidate in candidates:
        if _matches(candidate.shape[1:], shape):
            return candidate
    raise ModelError(f"the model takes images of shape {_text(shape)} but the data's images have shape "
                     f"{_text(images.shape[1:])}; give data the model was trained on.")


def _matches(actual: tuple, expected: tuple) -> bool:
    return len(actual) == len(expected) and all(e is None or a == e for a, e in zip(actual, expected))


def _text(shape: tuple) -> str:
    return "(" + ", ".join("any" if size is None else str(size) for size in shape) + ")"
