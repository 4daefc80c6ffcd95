"""The seed exercises' own sequences for `--recipe seed` (docs/seeds.md).

Seed 002 cut MNIST into disjoint consecutive groups of 10 images (6,000 training and 1,000
test sequences, each image used once). Seed 000 wrote `a+b` left-aligned in 7 slots, padded
with blanks on the right, each digit a random training image of that digit and each `+` or
blank a fresh image of uniform noise; answers are left-aligned in 4 characters.
"""

import numpy as np

from ..errors import DataError
from .sampling import ImagePool
from .storage import SequenceSet
from .symbols import BLANK, CHARS, PLUS

SEED_LAYOUT = "seed"


def grouped_sums(pool: ImagePool, length: int, count: int | None = None) -> SequenceSet:
    """The first `count` (all when None) disjoint groups of `length` consecutive images."""
    groups = len(pool) // length
    if groups == 0:
        raise DataError(f"{len(pool)} images make no group of {length}; use a larger dataset.")
    count = groups if count is None else min(count, groups)
    used = count * length
    x = pool.images[:used].reshape(count, length, *pool.images.shape[1:])
    slots = pool.labels[:used].reshape(count, length)
    return SequenceSet("sum", x, slots, slots.sum(axis=1))


def seed_operand(digits: int, rng: np.random.Generator) -> int:
    """1 to `digits` random decimal digits read as a number (so 007 is 7), as the seed drew them."""
    width = int(rng.integers(1, digits + 1))
    return int("".join(str(digit) for digit in rng.integers(0, 10, size=width)))


def seed_question_codes(a: int, b: int, digits: int) -> tuple[list[int], list[int]]:
    """Slot codes of `a+b` and answer codes, both left-aligned and blank-padded on the right."""
    question = f"{a}+{b}".ljust(2 * digits + 1)
    answer = str(a + b).ljust(digits + 1)
    return [CHARS.index(char) for char in question], [CHARS.index(char) for char in answer]


def seed_questions(pool: ImagePool, count: int, digits: int, rng: np.random.Generator) -> SequenceSet:
    """`count` addition questions written as seed 000 wrote them (see the module docstring)."""
    pairs = [(seed_operand(digits, rng), seed_operand(digits, rng)) for _ in range(count)]
    codes = [seed_question_codes(a, b, digits) for a, b in pairs]
    slots = np.array([question for question, _ in codes], dtype=np.int64)
    target = np.array([answer for _, answer in codes], dtype=np.int64)
    x = np.zeros((*slots.shape, 28, 28), dtype=np.uint8)
    digit = slots < 10
    x[digit] = pool.draw(slots[digit], rng)
    noise = (slots == PLUS) | (slots == BLANK)
    # The seed stored 255 * uniform noise in a uint8 array, which truncates it.
    x[noise] = (255 * rng.random((int(noise.sum()), 28, 28))).astype(np.uint8)
    return SequenceSet("calc", x, slots, target, {"op": "add", "digits": digits, "layout": SEED_LAYOUT})
