"""The checks a sequence file passes before anything uses it (docs/formats.md).

A file with a valid checksum can still hold what no mnist-sum run can use: slot codes outside
the character table, sums that are not the sums of their digits, float images, a calculator
file whose questions do not have 2D + 1 slots. Each refusal is one DataError naming the file,
the array and what to fix. Images must be uint8, so they are finite by their type.
"""

import numpy as np

from ..errors import DataError
from .limits import MAX_DIGITS, MAX_LENGTH
from .symbols import CHARS, OPERATORS, answer_length

DIGIT_CODES = 10


def check_sequence_arrays(where: str, split: str, task: str, x, slots, target, attrs: dict) -> None:
    """Shapes, dtypes and value ranges of one split's arrays.

    Args:
        where: the file, for the messages.
        split: "train", "validation" or "test".
        task: "sum" or "calc".
        attrs: the file's task settings (calc: op and digits, checked by `check_calc_settings`).
    """
    x, slots, target = np.asarray(x), np.asarray(slots), np.asarray(target)
    if x.ndim != 4 or x.shape[2:] != (28, 28) or x.dtype != np.uint8:
        raise DataError(f"{where}: x_{split} is {x.dtype} of shape {x.shape}; expected uint8 images of "
                        "shape (N, slots, 28, 28).")
    count, length = x.shape[:2]
    if count == 0 or not 1 <= length <= MAX_LENGTH:
        raise DataError(f"{where}: x_{split} holds {count} sequences of {length} images; expected at least "
                        f"one sequence of 1 to {MAX_LENGTH} images.")
    _check_codes(where, f"slots_{split}", slots, (count, length), DIGIT_CODES if task == "sum" else len(CHARS))
    if task == "sum":
        _check_integers(where, f"y_{split}", target, (count,))
        if not np.array_equal(target, slots.sum(axis=1)):
            row = int(np.argmax(target != slots.sum(axis=1)))
            raise DataError(f"{where}: y_{split}[{row}] is {target[row]}, but its digits sum to "
                            f"{slots[row].sum()}; the file is not a set of digit sums.")
    else:
        digits = attrs["digits"]
        if length != 2 * digits + 1:
            raise DataError(f"{where}: x_{split} has {length} slots per question; digits = {digits} "
                            f"needs {2 * digits + 1}.")
        _check_codes(where, f"y_{split}", target, (count, answer_length(digits)), len(CHARS))


def check_calc_settings(where: str, attrs: dict) -> None:
    """A calculator file's `op` and `digits` attributes."""
    op, digits = attrs.get("op"), attrs.get("digits")
    if op not in OPERATORS:
        raise DataError(f"{where}: op is {op!r}; expected one of {', '.join(OPERATORS)}.")
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= MAX_DIGITS:
        raise DataError(f"{where}: digits is {digits!r}; expected a whole number from 1 to {MAX_DIGITS}.")


def _check_integers(where: str, name: str, array: np.ndarray, shape: tuple) -> None:
    if array.shape != shape or array.dtype.kind not in "ui":
        raise DataError(f"{where}: {name} is {array.dtype} of shape {array.shape}; expected integers of shape {shape}.")


def _check_codes(where: str, name: str, codes: np.ndarray, shape: tuple, count: int) -> None:
    """Integer codes of `shape`, each inside 0..count-1."""
    _check_integers(where, name, codes, shape)
    outside = (codes < 0) | (codes >= count)
    if outside.any():
        index = tuple(int(i) for i in np.argwhere(outside)[0])
        raise DataError(f"{where}: {name}{list(index)} is {codes[index]}; codes must be 0 to {count - 1} "
                        f"(see docs/formats.md); the file is damaged or not from mlkit.")
