"""Image input pipelines: tf.data batches with on-the-fly augmentation that repeats exactly.

Every random draw (the shuffle, each flip, shift, rotation, zoom, contrast change and erased
rectangle) is a stateless op keyed by (seed, epoch, batch). The batches are built by a
parallel tf.data map, and Keras' preprocessing layers draw from one shared random state, so
with them the draws depended on which thread ran first; keyed draws give the same batches
whatever the timing. Shifts, rotations and zooms are one affine resampling per image
(bilinear, edges reflected), the transformations Keras' RandomTranslation, RandomRotation and
RandomZoom apply one after the other. airbench94's two: flips that alternate by epoch (each
image starts mirrored or not at random, keyed by seed and row, and every odd epoch mirrors all)
and whole-pixel shifts (a crop of the image padded by reflection).
"""

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from .errors import ConfigError
from .pipelines import PARALLEL_BATCHES, without_autotuning

FLIPS = ("horizontal", "vertical", "both", "alternate", "none")
ERASED_AREA = (0.02, 0.2)  # share of the image one erased rectangle covers, as RandomErasing's scale
ERASED_ASPECT = (0.3, 3.3)  # height/width range of the rectangle (Zhong et al., Random Erasing)
MAX_CROP = 16
ALTERNATE_FLIP_KEY = 1  # keeps the first-epoch mirror draws apart from other draws of the same seed
ERASE_FILL = 127.5  # mid-grey on the 0..255 scale the pipeline works in
PIXEL_RANGE = (0.0, 255.0)


@dataclass(frozen=True)
class Augmentation:
    """Which random transformations to apply to training images (0 turns one off).

    Args:
        flip: "horizontal", "vertical", "both" or "none"; each image is flipped with probability 1/2.
            "alternate": mirrored at random in epoch 0, then the other way every next epoch.
        translate: largest shift, as a fraction of height and width (0.1 = 3 pixels).
        crop: largest whole-pixel shift (a crop of the image padded by reflection); 0 = off.
        rotate: largest rotation, as a fraction of a full turn.
        zoom: largest zoom in or out, as a fraction of the size.
        contrast: largest contrast change, as a fraction.
        cutout: probability of erasing one random rectangle (2-20% of the image) with grey.
    """

    flip: str = "none"
    translate: float = 0.0
    rotate: float = 0.0
    zoom: float = 0.0
    contrast: float = 0.0
    cutout: float = 0.0
    crop: int = 0

    def __post_init__(self):
        if self.flip not in FLIPS:
            raise ConfigError(f"flip must be one of {', '.join(FLIPS)}, got {self.flip!r}.")
        if isinstance(self.crop, bool) or not isinstance(self.crop, int) or not 0 <= self.crop <= MAX_CROP:
            raise ConfigError(f"--crop must be a whole number of pixels from 0 to {MAX_CROP}, got {self.crop!r}.")
        for name in ("translate", "rotate", "zoom", "contrast", "cutout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ConfigError(f"--{name} must be between 0 and 1, got {value}.")

    @property
    def enabled(self) -> bool:
        return self.flip != "none" or any((self.translate, self.rotate, self.zoom, self.contrast, self.cutout,
                                           self.crop))

    def to_dict(self) -> dict:
        return asdict(self)

    def apply(self, images, seed):
        """Transform a batch of float32 images (N, H, W, C) in 0..255.

        Args:
            seed: a shape-[2] integer tensor; the same seed gives the same transformed batch.
                An "alternate" flip is drawn from it like a horizontal one: the alternation
                needs each image's row and the epoch, which TrainingBatches applies.
        """
        import tensorflow as tf

        flip_seed, affine_seed, contrast_seed, erase_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, num=4))
        if self.crop:
            images = _crop(images, self.crop, tf.random.experimental.stateless_fold_in(affine_seed, 1))
        if self.flip in ("horizontal", "both", "alternate"):
            images = _maybe_flip(images, axis=2, seed=flip_seed)
        if self.flip in ("vertical", "both"):
            images = _maybe_flip(images, axis=1, seed=tf.random.experimental.stateless_fold_in(flip_seed, 1))
        if self.translate or self.rotate or self.zoom:
            images = _affine(images, self, affine_seed)
        if self.contrast:
            images = _contrast(images, self.contrast, contrast_seed)
        if self.cutout:
            images = _erase(images, self.cutout, erase_seed)
        return images


def _maybe_flip(images, axis: int, seed):
    import tensorflow as tf

    flip = tf.random.stateless_uniform(tf.shape(images)[:1], seed) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(images, [axis]), images)


def _crop(images, pixels: int, seed):
    """Shift each image by whole pixels, up to `pixels` each way, filling the edges by reflection."""
    import tensorflow as tf

    height, width = tf.shape(images)[1], tf.shape(images)[2]
    padded = tf.pad(images, [[0, 0], [pixels, pixels], [pixels, pixels], [0, 0]], mode="REFLECT")
    corners = tf.random.stateless_uniform([tf.shape(images)[0], 2], seed, 0, 2 * pixels + 1, tf.int32)
    rows = corners[:, :1] + tf.range(height)[None, :]  # (N, H): each image's rows of the padded one
    cols = corners[:, 1:] + tf.range(width)[None, :]
    return tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)


def _affine(images, augmentation: Augmentation, seed):
    """Shift, rotate and zoom each image about its centre in one bilinear resampling."""
    import tensorflow as tf

    count, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    shift_seed, angle_seed, zoom_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=3))
    size = tf.cast(tf.stack([width, height]), tf.float32)
    shift = tf.random.stateless_uniform([count, 2], shift_seed, -augmentation.translate, augmentation.translate) * size
    turn = 2 * math.pi * augmentation.rotate
    angle = tf.random.stateless_uniform([count], angle_seed, -turn, turn)
    scale = 1 + tf.random.stateless_uniform([count], zoom_seed, -augmentation.zoom, augmentation.zoom)
    cos, sin = scale * tf.cos(angle), scale * tf.sin(angle)
    centre_x, centre_y = (size[0] - 1) / 2, (size[1] - 1) / 2
    # Maps each output pixel (x, y) to the input point it samples.
    transforms = tf.stack([cos, -sin, centre_x - cos * centre_x + sin * centre_y - shift[:, 0],
                           sin, cos, centre_y - sin * centre_x - cos * centre_y - shift[:, 1],
                           tf.zeros([count]), tf.zeros([count])], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.stack([height, width]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")


def _contrast(images, factor: float, seed):
    """Scale each image's distance from its per-channel mean by a factor in [1 - f, 1 + f]."""
    import tensorflow as tf

    scale = tf.random.stateless_uniform(tf.concat([tf.shape(images)[:1], [1, 1, 1]], 0), seed, 1 - factor, 1 + factor)
    mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    return tf.clip_by_value((images - mean) * scale + mean, *PIXEL_RANGE)


def _erase(images, probability: float, seed):
    """With `probability`, fill one random rectangle of each image with grey."""
    import tensorflow as tf

    count, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    draws = tf.random.stateless_uniform([count, 5], seed)
    area = ERASED_AREA[0] + draws[:, 0] * (ERASED_AREA[1] - ERASED_AREA[0])
    aspect = tf.exp(math.log(ERASED_ASPECT[0]) + draws[:, 1] * math.log(ERASED_ASPECT[1] / ERASED_ASPECT[0]))
    rows = tf.minimum(tf.sqrt(area * aspect), 1.0) * tf.cast(height, tf.float32)
    cols = tf.minimum(tf.sqrt(area / aspect), 1.0) * tf.cast(width, tf.float32)
    top = draws[:, 2] * (tf.cast(height, tf.float32) - rows)
    left = draws[:, 3] * (tf.cast(width, tf.float32) - cols)
    y = tf.cast(tf.range(height), tf.float32)[None, :, None]
    x = tf.cast(tf.range(width), tf.float32)[None, None, :]
    inside = ((y >= top[:, None, None]) & (y < (top + rows)[:, None, None])
              & (x >= left[:, None, None]) & (x < (left + cols)[:, None, None])
              & (draws[:, 4] < probability)[:, None, None])
    return tf.where(inside[..., None], tf.constant(ERASE_FILL, images.dtype), images)


def make_dataset(x: np.ndarray, y: np.ndarray, num_classes: int, batch_size: int):
    """Batches of (float32 images in 0..255, one-hot labels) in the order given (for scoring).

    Args:
        x, y: uint8 images (N, H, W, C) and integer labels.
        num_classes: length of the one-hot vectors (label smoothing needs one-hot labels).
        batch_size: images per batch.
    """
    import tensorflow as tf

    _require_images(x)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    return without_autotuning(dataset.map(
        lambda images, labels: (tf.cast(images, tf.float32), tf.one_hot(labels, num_classes)),
        num_parallel_calls=PARALLEL_BATCHES))


class TrainingBatches:
    """Shuffled, augmented training batches whose every draw is keyed by (seed, epoch, batch).

    Keras starts a new pass over `dataset` each epoch; `epoch_callback()` (given to fit) tells
    the pipeline which epoch that is, so a resumed run's epoch 5 shuffles as epoch 5 did, and an
    "alternate" flip mirrors each image in the epochs where its own draw, flipped every odd epoch, says so.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, num_classes: int, batch_size: int, *,
                 augmentation: Augmentation | None = None, seed: int = 0):
        import tensorflow as tf

        _require_images(x)
        self.count, self.batch_size = len(x), batch_size
        self.steps = math.ceil(self.count / batch_size)
        augmentation = augmentation or Augmentation()
        alternate = augmentation.flip == "alternate"
        self.augmentation = augmentation if augmentation.enabled else None
        self._per_batch = replace(augmentation, flip="none") if alternate else augmentation
        self.seed = seed
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._images, self._labels, self._num_classes = tf.constant(x), tf.constant(y), num_classes
        self._mirrored_first = tf.constant(first_mirrored(len(x), seed)) if alternate else None

    def __repr__(self) -> str:
        return (f"TrainingBatches(images={self.count}, batch_size={self.batch_size}, "
                f"augmentation={self.augmentation}, seed={self.seed})")

    @property
    def dataset(self):
        import tensorflow as tf

        return without_autotuning(tf.data.Dataset.range(self.steps).map(self._batch,
                                                                         num_parallel_calls=PARALLEL_BATCHES))

    def _batch(self, index):
        import tensorflow as tf

        epoch_key = tf.stack([tf.constant(self.seed, tf.int64), self.epoch.read_value()])
        positions = tf.range(index * self.batch_size, tf.minimum((index + 1) * self.batch_size, self.count))
        # One permutation of all images per epoch, computed batch by batch without state.
        rows = tf.random.experimental.index_shuffle(positions, epoch_key, self.count - 1)
        images = tf.cast(tf.gather(self._images, rows), tf.float32)
        if self._per_batch.enabled:
            images = self._per_batch.apply(images, tf.random.experimental.stateless_fold_in(epoch_key, index))
        if self._mirrored_first is not None:
            mirrored = tf.not_equal(tf.gather(self._mirrored_first, rows), tf.equal(self.epoch.read_value() % 2, 1))
            images = tf.where(mirrored[:, None, None, None], tf.reverse(images, [2]), images)
        return images, tf.one_hot(tf.gather(self._labels, rows), self._num_classes)

    def epoch_callback(self):
        """A Keras callback that sets the epoch the next pass over `dataset` draws for."""
        import keras

        epoch = self.epoch

        class EpochKey(keras.callbacks.Callback):
            def on_epoch_begin(self, number, logs=None):
                epoch.assign(number)

        return EpochKey()


def first_mirrored(count: int, seed: int) -> np.ndarray:
    """Which of `count` images an "alternate" flip mirrors in epoch 0 (half of them at random)."""
    return np.random.default_rng([seed, ALTERNATE_FLIP_KEY]).random(count) < 0.5


def _require_images(x: np.ndarray) -> None:
    if len(x) == 0:
        raise ConfigError("no images to train or evaluate on; check --data and --subset.")


def augmented_examples(x: np.ndarray, augmentation: Augmentation, count: int,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random images passed through `augmentation`, as uint8, and their row numbers."""
    import tensorflow as tf

    rows = np.random.default_rng(seed).choice(len(x), min(count, len(x)), replace=False)
    images = x[rows].astype("float32")
    if augmentation.enabled:
        images = np.asarray(augmentation.apply(tf.constant(images), tf.constant([seed, 0], tf.int64)))
    return np.clip(images, *PIXEL_RANGE).astype("uint8"), rows
