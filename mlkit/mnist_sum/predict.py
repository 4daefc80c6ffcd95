"""Applying a saved sum or calculator model to a sequence file or to image files in order."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.hdf5 import checksum
from ..errors import ConfigError, DataError, ModelError
from ..models.mnist_calc import CALC_MODEL_NAMES, calc_model_for, calc_op
from ..models.mnist_sum import SUM_MODEL_NAME
from ..models.mnist_sum_seed import SEED_CALC_MODEL_NAME, SEED_SUM_MODEL_NAME
from ..record import Record, data_block, file_sha256
from ..training import load_model
from .evaluation import SumPredictions, answer_rows, calc_metrics, predict_answers, predict_sums, sum_metrics
from .images import load_digit_image
from .limits import MAX_DIGITS, MAX_LENGTH
from .storage import SPLITS, SequenceSet, load_sequences
from .symbols import BLANK, MINUS, OPERATORS, PLUS, symbol_image

OPERATOR_TOKENS = {"+": PLUS, "-": MINUS}
# The scores `predict` computes when the true answers are known (a sequence file); each is None
# where the task has no such score or the answers are unknown (image files).
PREDICT_METRICS = ("exact_match", "mae", "rmse", "digit_accuracy", "char_accuracy", "wall_seconds")
# The task of every model `mlkit mnist-sum` saves, by the model's name.
MODEL_TASKS = ({SUM_MODEL_NAME: "sum", SEED_SUM_MODEL_NAME: "sum", SEED_CALC_MODEL_NAME: "calc"}
               | {name: "calc" for name in CALC_MODEL_NAMES.values()})


@dataclass
class PredictConfig:
    """`mnist-sum predict`: a saved model and either a sequence file or image files in order."""

    model: Path
    data: Path | None = None
    split: str = "test"
    images: tuple[str, ...] = ()


@dataclass
class PredictResult:
    """The model's answer for every sequence, and scores when the true answers are known."""

    task: str
    config: dict
    data: dict | None = None  # the record's `data` block
    predictions: list[dict] = field(default_factory=list)
    metrics: dict | None = None
    wall_seconds: float = 0.0

    def __repr__(self) -> str:
        return f"PredictResult({self.task!r}, predictions={len(self.predictions)}, metrics={self.metrics})"

    def record(self) -> Record:
        """The shared result record (docs/json.md); scores are None without true answers."""
        metrics = {name: (self.metrics or {}).get(name) for name in PREDICT_METRICS}
        metrics["wall_seconds"] = self.wall_seconds
        return Record("mnist-sum predict", self.config | {"task": self.task}, metrics, data=self.data,
                      sections={"predictions": self.predictions})


def run_predict(config: PredictConfig) -> PredictResult:
    """Load the model (safe mode), read the sequences, predict and score."""
    started = time.perf_counter()
    if (config.data is None) == (not config.images):
        raise ConfigError("give either --data FILE.h5 or image files (in order), not both or neither.")
    if config.split not in SPLITS:
        raise ConfigError(f"--split must be one of {', '.join(SPLITS)}, got {config.split!r}.")
    if len(config.images) > MAX_LENGTH:
        raise ConfigError(f"give at most {MAX_LENGTH} image files (a sequence's longest), got {len(config.images)}.")
    # The file is checked before the model is loaded: nothing stored is used unchecked.
    data = load_sequences(config.data) if config.data is not None else None
    model = load_model(config.model)
    if model.name == SEED_CALC_MODEL_NAME:
        raise ModelError(f"{config.model} was trained with `mnist-sum calc --recipe seed`, whose questions are "
                         "left-aligned with noise images for + and padding; predict writes mlkit's right-aligned "
                         "layout with blank images, so it cannot read this model.")
    if model.name not in MODEL_TASKS:
        raise ModelError(f"{config.model} is a {model.name!r} model, not one saved by `mlkit mnist-sum`.")
    task = MODEL_TASKS[model.name]
    result = PredictResult(task, {"model": config.model, "data": config.data,
                                  "split": config.split if config.data else None, "images": list(config.images)})
    if data is not None:
        if data.task != task:
            raise DataError(f"{config.data} holds {data.task!r} sequences but {config.model} is a {task} model.")
        if task == "calc" and data.train.attrs["op"] != calc_op(model):
            raise DataError(f"{config.data} asks {data.train.attrs['op']} questions but {config.model} "
                            f"answers {calc_op(model)} ones.")
        sequences = getattr(data, config.split)
        result.data = data_block(Path(config.data).name, config.data, file_sha256(config.data),
                                 split=config.split, sequences=len(sequences), length=sequences.length)
        _predict_sequences(model, task, sequences, result)
    elif task == "sum":
        _predict_sum_images(model, config.images, result)
    else:
        _predict_calc_images(model, config.images, result)
    result.wall_seconds = time.perf_counter() - started
    return result


def _predict_sequences(model, task: str, sequences: SequenceSet, result: PredictResult) -> None:
    if task == "sum":
        predictions = predict_sums(model, sequences)
        result.predictions = [_sum_row(predictions, index) | {"answer": int(answer)}
                              for index, answer in enumerate(sequences.target)]
        result.metrics = sum_metrics(predictions.sums, sequences, predictions.digits)
        return
    if sequences.length != model.inputs[0].shape[1]:
        # The reader reads any number of digits: the same calculator for the file's width.
        model = calc_model_for(model, (sequences.length - 1) // 2)
    codes, digits, _ = predict_answers(model, sequences)
    result.predictions = answer_rows(codes, sequences.slots, sequences.target)
    result.metrics = calc_metrics(codes, sequences, digits)


def _sum_row(predictions: SumPredictions, index: int) -> dict:
    row = {"predicted": int(predictions.sums[index]), "expected": float(predictions.expected[index])}
    if predictions.digits is not None:
        row["digits"] = " ".join(str(digit) for digit in predictions.digits[index])
    return row


def _images_block(images: np.ndarray) -> dict:
    """The `data` block of images given as files: the fingerprint of the pixels the model read."""
    return data_block("image files", None, checksum({"x": images}), images=int(images.shape[1]))


def _predict_sum_images(model, paths: tuple[str, ...], result: PredictResult) -> None:
    sequences = np.stack([load_digit_image(path) for path in paths])[None]
    result.data = _images_block(sequences)
    predictions = predict_sums(model, SequenceSet("sum", sequences, np.zeros((1, len(paths))), np.zeros(1)))
    result.predictions = [_sum_row(predictions, 0) | {"images": len(paths)}]


def _predict_calc_images(model, tokens: tuple[str, ...], result: PredictResult) -> None:
    """Tokens are digit image files with one `+` or `-` between the two operands.

    The calculator reads operands of any width up to MAX_DIGITS (models/mnist_calc.py)."""
    operators = [index for index, token in enumerate(tokens) if token in OPERATOR_TOKENS]
    if len(operators) != 1:
        raise ConfigError("give the question as digit image files with one + or - between the operands, "
                          "e.g. 4.png 8.png + 1.png 9.png 4.png.")
    split = operators[0]
    if tokens[split] != OPERATORS[calc_op(model)]:
        raise ConfigError(f"this model answers {calc_op(model)} questions ({OPERATORS[calc_op(model)]}), "
                          f"not {tokens[split]}.")
    fields = [tokens[:split], tokens[split + 1:]]
    if not all(1 <= len(operand) <= MAX_DIGITS for operand in fields):
        raise ConfigError(f"each operand must have 1 to {MAX_DIGITS} digit images.")
    width = max(len(operand) for operand in fields)
    slots = 2 * width + 1
    model = calc_model_for(model, width)
    question = np.zeros((1, slots, 28, 28), dtype=np.uint8)
    question[0, width] = symbol_image(OPERATOR_TOKENS[tokens[split]])
    for start, operand in ((0, fields[0]), (width + 1, fields[1])):
        padding = width - len(operand)
        question[0, start:start + padding] = symbol_image(BLANK)
        for offset, path in enumerate(operand):
            question[0, start + padding + offset] = load_digit_image(path)
    result.data = _images_block(question)
    codes, _, _ = predict_answers(model, SequenceSet("calc", question, np.zeros((1, slots)), np.zeros((1, 1))))
    row = answer_rows(codes, np.full((1, slots), BLANK))[0]
    result.predictions = [row | {"question": " ".join(Path(token).name for token in tokens)}]
