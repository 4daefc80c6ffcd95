"""Sequences of MNIST images that write sums and arithmetic questions, and their HDF5 files."""

from .sampling import ImagePool, make_calc_questions, make_sum_sequences, split_pool
from .storage import SequenceData, SequenceSet, load_sequences, save_sequences
from .symbols import (ANSWER_BLANK, CHARS, decode_answers, encode_answer, layout_question,
                      symbol_image)

__all__ = [
    "ANSWER_BLANK", "CHARS", "ImagePool", "SequenceData", "SequenceSet", "decode_answers",
    "encode_answer", "layout_question", "load_sequences", "make_calc_questions",
    "make_sum_sequences", "save_sequences", "split_pool", "symbol_image",
]
