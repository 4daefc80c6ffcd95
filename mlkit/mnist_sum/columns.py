"""Answers as the column calculator writes them: one digit per place value, units first.

For add the N+1 columns are the digits of a+b, the last one the final carry. For sub the first
N are the digits of (a-b) mod 10^N and the last is the final borrow, 1 when a-b is negative
(ten's complement, as written subtraction leaves it). See models/mnist_calc.py.
"""

import numpy as np

from .symbols import decode_answers, encode_answer


def answer_columns(codes: np.ndarray, op: str, digits: int) -> np.ndarray:
    """(count, N+1) column digits of answers given as character codes (see symbols.encode_answer)."""
    values = np.array([int(text) for text in decode_answers(codes)], dtype=np.int64)
    places = 10 ** np.arange(digits + 1, dtype=np.int64)
    residue = values if op == "add" else np.mod(values, places[-1])
    columns = residue[:, None] // places % 10
    if op == "sub":
        columns[:, -1] = values < 0
    return columns


def column_answers(probabilities: np.ndarray, op: str) -> np.ndarray:
    """Answer codes, most significant character first, of (count, N+1, 10) column probabilities.

    Each column's most probable digit is taken; a final carry or borrow reads 1 or 0.
    """
    columns = np.asarray(probabilities).argmax(axis=-1)
    digits = columns.shape[1] - 1
    places = 10 ** np.arange(digits + 1, dtype=np.int64)
    values = columns[:, :digits] @ places[:digits]
    values += (1 if op == "add" else -1) * np.minimum(columns[:, digits], 1) * places[digits]
    # A borrow with every digit 0 would be -10^N, which no two N-digit operands give.
    largest = places[digits] - 1
    values = np.clip(values, -largest, 2 * largest)
    return np.array([encode_answer(int(value), digits) for value in values], dtype=np.int64)
