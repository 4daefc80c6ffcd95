"""The non-digit slots of a question (operator and blank images) and the character table.

Every slot of a question and every character of an answer is a code into `CHARS`:
0-9 are the digits, 10 is `+`, 11 is `-` and 12 is the blank used for padding.
"""

import numpy as np

from ..errors import ConfigError

CHARS = "0123456789+- "
PLUS, MINUS, BLANK = 10, 11, 12
ANSWER_BLANK = BLANK
IMAGE_SIZE = 28
OPERATORS = {"add": "+", "sub": "-"}
# Stroke geometry of the operator glyphs, in pixels of the 28x28 MNIST frame: a bar of
# MNIST-like thickness spanning the central 16 pixels, white (255) on black like the digits.
STROKE_START, STROKE_END = 6, 22
STROKE_LOW, STROKE_HIGH = 12, 16


def symbol_image(code: int) -> np.ndarray:
    """The fixed 28x28 uint8 image of a non-digit slot: `+`, `-` or blank (all zeros)."""
    if code not in (PLUS, MINUS, BLANK):
        raise ValueError(f"symbol code {code} is not an operator or blank")
    image = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    if code in (PLUS, MINUS):
        image[STROKE_LOW:STROKE_HIGH, STROKE_START:STROKE_END] = 255
    if code == PLUS:
        image[STROKE_START:STROKE_END, STROKE_LOW:STROKE_HIGH] = 255
    return image


def layout_question(a: int, b: int, op: str, digits: int) -> list[int]:
    """Slot codes of `a op b`: each operand right-aligned in a field of `digits` slots.

    Right alignment puts units under units and tens under tens at fixed slots, so a model can
    learn column-wise addition with carries; shorter operands are padded with blanks on the
    left. `layout_question(48, 194, "add", 3)` is `[blank, 4, 8, +, 1, 9, 4]`.
    """
    return _field(a, digits) + [PLUS if op == "add" else MINUS] + _field(b, digits)


def _field(number: int, width: int) -> list[int]:
    text = str(number)
    if len(text) > width or number < 0:
        raise ConfigError(f"operand {number} does not fit in {width} digits; raise --digits.")
    return [BLANK] * (width - len(text)) + [int(char) for char in text]


def answer_length(digits: int) -> int:
    """Characters of the longest answer: a carry digit for add, a minus sign for sub."""
    return digits + 1


def encode_answer(value: int, digits: int) -> list[int]:
    """Codes of the answer right-aligned in `answer_length(digits)` characters."""
    text = str(value).rjust(answer_length(digits))
    return [CHARS.index(char) for char in text]


def decode_answers(codes: np.ndarray) -> list[str]:
    """Turn (N, answer_length) codes (or per-character probabilities) into stripped strings."""
    codes = np.asarray(codes)
    if codes.ndim == 3:
        codes = codes.argmax(axis=-1)
    return ["".join(CHARS[code] for code in row).strip() for row in codes]


def operator_name(op: str) -> str:
    """Check an --op value and return it."""
    if op not in OPERATORS:
        raise ConfigError(f"--op must be one of {', '.join(OPERATORS)}, got {op!r}.")
    return op
