"""Image input pipelines: tf.data batches with optional on-the-fly augmentation.

Augmentation is built from Keras preprocessing layers (the replacement for the deprecated
ImageDataGenerator) and runs inside tf.data on whole batches, so it overlaps with training.
"""

from dataclasses import asdict, dataclass

import numpy as np

from .errors import ConfigError

FLIPS = ("horizontal", "vertical", "both", "none")
FLIP_MODES = {"horizontal": "horizontal", "vertical": "vertical", "both": "horizontal_and_vertical"}


@dataclass(frozen=True)
class Augmentation:
    """Which random transformations to apply to training images (0 turns one off).

    Args:
        flip: "horizontal", "vertical", "both" or "none".
        translate: largest shift, as a fraction of height and width (0.1 = 3 pixels).
        rotate: largest rotation, as a fraction of a full turn.
        zoom: largest zoom in or out, as a fraction of the size.
        contrast: largest contrast change, as a fraction.
        cutout: probability of erasing one random rectangle (RandomErasing).
    """

    flip: str = "none"
    translate: float = 0.0
    rotate: float = 0.0
    zoom: float = 0.0
    contrast: float = 0.0
    cutout: float = 0.0

    def __post_init__(self):
        if self.flip not in FLIPS:
            raise ConfigError(f"flip must be one of {', '.join(FLIPS)}, got {self.flip!r}.")
        for name in ("translate", "rotate", "zoom", "contrast", "cutout"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"--{name} must be between 0 and 1, got {value}.")

    @property
    def enabled(self) -> bool:
        return self.flip != "none" or any((self.translate, self.rotate, self.zoom, self.contrast, self.cutout))

    def to_dict(self) -> dict:
        return asdict(self)

    def build(self, seed: int = 0):
        """The augmentation as a keras.layers.Pipeline, or None when nothing is enabled."""
        from keras import layers

        steps = []
        if self.flip != "none":
            steps.append(layers.RandomFlip(FLIP_MODES[self.flip], seed=seed))
        if self.translate:
            steps.append(layers.RandomTranslation(self.translate, self.translate, fill_mode="reflect",
                                                  seed=seed + 1))
        if self.rotate:
            steps.append(layers.RandomRotation(self.rotate, fill_mode="reflect", seed=seed + 2))
        if self.zoom:
            steps.append(layers.RandomZoom(self.zoom, self.zoom, fill_mode="reflect", seed=seed + 3))
        if self.contrast:
            steps.append(layers.RandomContrast(self.contrast, value_range=(0, 255), seed=seed + 4))
        if self.cutout:
            steps.append(layers.RandomErasing(factor=self.cutout, scale=(0.02, 0.2), fill_value=127.5,
                                              value_range=(0, 255), seed=seed + 5))
        return layers.Pipeline(steps, name="augmentation") if steps else None


def make_dataset(x: np.ndarray, y: np.ndarray, num_classes: int, batch_size: int, *,
                 augmentation=None, shuffle_seed: int | None = None):
    """A tf.data pipeline of (float32 images in 0..255, one-hot labels) batches.

    Args:
        x, y: uint8 images (N, H, W, C) and integer labels.
        num_classes: length of the one-hot vectors (label smoothing needs one-hot labels).
        batch_size: images per batch.
        augmentation: a layer (see Augmentation.build) applied to each training batch.
        shuffle_seed: reshuffle every epoch with this seed; None keeps the order (evaluation).
    """
    import tensorflow as tf

    if len(x) == 0:
        raise ConfigError("no images to train or evaluate on; check --data and --subset.")
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)

    def prepare(images, labels):
        images = tf.cast(images, tf.float32)
        if augmentation is not None:
            images = augmentation(images, training=True)
        return images, tf.one_hot(labels, num_classes)

    return dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def augmented_examples(x: np.ndarray, augmentation, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random images passed through `augmentation`, as uint8, and their row numbers."""
    rows = np.random.default_rng(seed).choice(len(x), min(count, len(x)), replace=False)
    images = x[rows].astype("float32")
    if augmentation is not None:
        images = np.asarray(augmentation(images, training=True))
    return np.clip(images, 0, 255).astype("uint8"), rows
