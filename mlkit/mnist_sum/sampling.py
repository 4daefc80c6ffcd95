"""Sampling sum sequences and calculator questions from a pool of labelled digit images.

Training sequences come from the training images only and test sequences from the test images
only, so no test digit is ever seen in training. Images are drawn with replacement, so far more
sequences than the 6,000 fixed groups of the seed exercise can be made.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError
from .limits import MAX_DIGITS, check_range
from .storage import SequenceSet
from .symbols import (BLANK, MINUS, PLUS, encode_answer, layout_question, operator_name,
                      symbol_image)


@dataclass
class ImagePool:
    """Labelled 28x28 uint8 digit images that sequences are drawn from."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if self.images.ndim != 3 or self.images.shape[1:] != (28, 28):
            raise DataError(f"digit images must be 28x28 greyscale, got shape {self.images.shape[1:]}; "
                            "use mnist or an HDF5 export of it.")
        if self.images.dtype != np.uint8:
            # The models scale 0-255 to 0-1 themselves; floats would be scaled twice or be NaN.
            raise DataError(f"digit images must be uint8 (0-255) like MNIST's, got {self.images.dtype}; "
                            "use mnist or an HDF5 export of it.")
        if len(self.labels) == 0 or self.labels.min() < 0 or self.labels.max() > 9:
            raise DataError("digit labels must be 0-9; use mnist or an HDF5 export of it.")

    @classmethod
    def from_sequences(cls, sequences: SequenceSet) -> "ImagePool":
        """The digit images inside stored sequences (operator and blank slots left out)."""
        digit = sequences.slots < 10
        return cls(sequences.x[digit], sequences.slots[digit])

    def draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random image of each requested label (any shape of labels)."""
        labels = np.asarray(labels)
        rows = np.zeros(labels.shape, dtype=np.int64)
        for digit in np.unique(labels):
            candidates = np.flatnonzero(self.labels == digit)
            if len(candidates) == 0:
                raise DataError(f"no image of digit {digit} to draw from; the dataset is too small.")
            where = labels == digit
            rows[where] = rng.choice(candidates, size=int(where.sum()))
        return self.images[rows]

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"ImagePool(images={len(self)}, digits={np.bincount(self.labels, minlength=10).tolist()})"


def split_pool(pool: ImagePool, validation_fraction: float, seed: int) -> tuple[ImagePool, ImagePool]:
    """Hold out a stratified fraction of the training images so validation digits are unseen."""
    from sklearn.model_selection import train_test_split

    try:
        kept, held = train_test_split(np.arange(len(pool)), test_size=validation_fraction,
                                      random_state=seed, stratify=pool.labels)
    except ValueError as error:
        raise DataError(f"cannot hold out {validation_fraction:.3f} of {len(pool)} training images "
                        f"with every digit on both sides ({error}); use a larger dataset.") from error
    return (ImagePool(pool.images[kept], pool.labels[kept]),
            ImagePool(pool.images[held], pool.labels[held]))


def make_sum_sequences(pool: ImagePool, count: int, length: int, rng: np.random.Generator) -> SequenceSet:
    """`count` sequences of `length` random images from `pool`; the target is their digit sum."""
    _check_positive(count=count, length=length)
    rows = rng.integers(0, len(pool), size=(count, length))
    slots = pool.labels[rows]
    return SequenceSet("sum", pool.images[rows], slots, slots.sum(axis=1))


def make_calc_questions(pool: ImagePool, count: int, op: str, digits: int,
                        rng: np.random.Generator, full_width: bool = False) -> SequenceSet:
    """`count` questions `a op b` with operands of 1 to `digits` digits (lengths equally likely).

    Digit slots hold random images of their digit; the operator and the blank padding hold the
    fixed images of `symbol_image`. The target is the answer's character codes. `full_width`
    writes every operand with exactly `digits` digit images instead, each digit drawn at
    random so leading zeros occur: the neuro-symbolic MNIST-addition benchmark's questions.
    """
    operator_name(op)
    _check_positive(count=count, digits=digits)
    check_range("--digits", digits, 1, MAX_DIGITS)
    if full_width:
        first, second = rng.integers(0, 10, size=(2, count, digits))
        operator = np.full((count, 1), PLUS if op == "add" else MINUS)
        slots = np.concatenate([first, operator, second], axis=1)
        places = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
        a, b = first @ places, second @ places
    else:
        a, b = _operands(count, digits, rng), _operands(count, digits, rng)
        slots = np.array([layout_question(x, y, op, digits) for x, y in zip(a, b)], dtype=np.int64)
    answers = a + b if op == "add" else a - b
    target = np.array([encode_answer(int(value), digits) for value in answers], dtype=np.int64)
    x = np.zeros((*slots.shape, 28, 28), dtype=np.uint8)
    digit = slots < 10
    x[digit] = pool.draw(slots[digit], rng)
    for code in (PLUS, MINUS, BLANK):
        x[slots == code] = symbol_image(code)
    return SequenceSet("calc", x, slots, target, {"op": op, "digits": digits})


def _operands(count: int, digits: int, rng: np.random.Generator) -> np.ndarray:
    widths = rng.integers(1, digits + 1, size=count)
    low = np.where(widths == 1, 0, 10 ** (widths - 1))
    return rng.integers(low, 10 ** widths)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}.")
